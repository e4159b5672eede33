#!/bin/sh
# render_promtool.t: every text 0.0.4 golden of tests/unit/test_exposition.c piped through
# `promtool check metrics` (exit 0: clean, 1: could not parse, 3: lint problems). Goldens named
# upstream_* re-expose upstream names verbatim (a counter without _total, an abbreviated unit,
# no help text): they may have lint problems but must parse. promtool reads only the classic
# text format, so the OpenMetrics goldens go through the strict OpenMetrics parser of
# prometheus_client (Debian python3-prometheus-client) instead, when it is installed.
cd "$(dirname "$0")/../.." || exit 1
if ! command -v promtool >/dev/null 2>&1; then
    echo "1..0 # SKIP promtool is not installed"
    exit 0
fi
n=0
failed=0
check() { # name, condition result (0 ok), output to show on failure
    n=$((n + 1))
    if [ "$2" -eq 0 ]; then
        echo "ok $n - $1"
    else
        echo "not ok $n - $1"
        failed=$((failed + 1))
        printf '%s\n' "$3" | sed 's/^/#   /'
    fi
}

# promtool must tell a parse error from lint problems, or the checks below prove nothing.
out=$(printf 'demo_value{le="x" 1\n' | promtool check metrics 2>&1)
rc=$?
[ $rc -eq 1 ]
check "promtool exits 1 on an unparsable body (got $rc)" $? "$out"

count=0
for f in tests/data/render/*.text.txt; do
    [ -e "$f" ] || continue
    count=$((count + 1))
    name=$(basename "$f")
    out=$(promtool check metrics <"$f" 2>&1)
    rc=$?
    case "$name" in
    upstream_*)
        [ $rc -eq 0 ] || [ $rc -eq 3 ]
        check "$name parses (exit $rc; lint problems allowed for upstream names)" $? "$out"
        ;;
    *)
        [ $rc -eq 0 ]
        check "$name is clean (exit $rc)" $? "$out"
        ;;
    esac
done
py=""
for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null 2>&1 &&
        "$p" -c 'import prometheus_client.openmetrics.parser' 2>/dev/null; then
        py=$p
        break
    fi
done
for f in tests/data/render/*.openmetrics.txt; do
    [ -e "$f" ] || continue
    name=$(basename "$f")
    if [ -z "$py" ]; then
        n=$((n + 1))
        echo "ok $n - $name # SKIP python3-prometheus-client is not installed"
        continue
    fi
    out=$("$py" -c '
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
list(text_string_to_metric_families(open(sys.argv[1]).read()))
' "$f" 2>&1)
    check "$name parses as OpenMetrics 1.0 (prometheus_client)" $? "$out"
done

[ $count -ge 10 ]
check "found the text goldens ($count)" $? "run from the repository root; tests/data/render/*.text.txt"
echo "1..$n"
[ $failed -eq 0 ]
