#!/bin/sh
# Starts a throwaway PostgreSQL on 127.0.0.1:PORT with its data in DIR, as the postgres user
# (initdb refuses root; setpriv execs, so the PID is postgres' own). Prints "ready" when it
# accepts connections, then waits on the server, so killing this script's process group stops
# it. Test-only settings: fsync off, tiny buffers. Usage: pg_start.sh DIR PORT
set -eu
dir=$1 port=$2
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
as_pg="setpriv --reuid=postgres --regid=postgres --init-groups --"
mkdir -p "$dir"
chown postgres:postgres "$dir"
chmod 755 "$dir"
[ -f "$dir/data/PG_VERSION" ] || $as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres \
    --no-sync >"$dir/initdb.log" 2>&1
$as_pg "$bin/postgres" -D "$dir/data" -p "$port" -c listen_addresses=127.0.0.1 \
    -c unix_socket_directories="$dir" -c fsync=off -c shared_buffers=16MB \
    -c max_connections=20 >"$dir/postgres.log" 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid' TERM INT
for _ in $(seq 1 100); do
    if "$bin/pg_isready" -h 127.0.0.1 -p "$port" -q; then
        echo ready
        wait $pid
        exit 0
    fi
    sleep 0.1
done
echo "postgres did not start:" >&2
cat "$dir/postgres.log" >&2
kill $pid
exit 1
