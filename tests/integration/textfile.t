#!/usr/bin/env python3
"""The textfile collector: a bad file is skipped with a clear log line and an error metric
while the other files are still exported; a series present in two files is reported and
emitted once; changes are picked up; a missing directory sets up to 0 and others go on."""
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import Drwatch, Tap, tmpdir, wait_for  # noqa: E402

t = Tap()
d = tmpdir()


def write(name, text):
    with open(os.path.join(d, name + ".tmp"), "w") as f:
        f.write(text)
    os.rename(os.path.join(d, name + ".tmp"), os.path.join(d, name))


write("good.prom", "# HELP job_ok A job result.\n# TYPE job_ok gauge\njob_ok{job=\"a\"} 1\n")
write("bad.prom", "# TYPE broken gauge\nbroken{x=\"1\" 2\n")
write("ignored.txt", "not_exported 1\n")
dw = Drwatch('drwatch = { site = "golddr" }\n'
             'textfile = { directory = "%s", interval = "1s" }\n' % d).start()
m = dw.metrics()
t.is_(m.get('job_ok{job="a"}'), 1.0, "the good file is exported")
t.ok(not any(k.startswith("broken") for k in m), "nothing of the bad file is exported")
t.ok("not_exported" not in str(m), "files not named *.prom are ignored")
t.is_(m.get('drwatch_textfile_file_valid{file="bad.prom"}'), 0.0, "the bad file is marked invalid")
t.is_(m.get('drwatch_textfile_file_valid{file="good.prom"}'), 1.0, "the good file is valid")
t.ok(m.get('drwatch_collector_errors_total{collector="textfile",reason="bad_file",'
           'target="%s"}' % d, 0) >= 1, "errors_total{reason=\"bad_file\"} counts it")
t.is_(m.get('drwatch_collector_up{collector="textfile",target="%s"}' % d), 1.0,
      "the collector itself stays up")
t.ok("bad.prom:2:" in dw.log() and "expected ',' or '}'" in dw.log(),
     "the log names file:line and what was wrong")
time.sleep(2.2)
t.is_(dw.log().count("skipping"), 1, "a bad file is logged once while it stays bad")

# A half-written file (no final newline) is refused, not half-exported.
write("partial.prom", "job_partial 1\njob_partial_two 2")
t.ok(wait_for(lambda: dw.sample('drwatch_textfile_file_valid{file="partial.prom"}') == 0),
     "a truncated file is refused")
t.ok(dw.sample("job_partial") is None, "and none of its lines are exported")

# Timestamps are refused, as node_exporter does.
write("ts.prom", "job_ts 1 1700000000000\n")
t.ok(wait_for(lambda: dw.sample('drwatch_textfile_file_valid{file="ts.prom"}') == 0),
     "a file with timestamps is refused")

# The same series in two files: reported and exported once.
write("dup.prom", "# TYPE job_ok gauge\njob_ok{job=\"a\"} 7\njob_ok{job=\"b\"} 2\n")
t.ok(wait_for(lambda: dw.sample("drwatch_textfile_duplicate_series") == 1),
     "a duplicate series across files is counted")
status, _, body = dw.get("/metrics")
t.is_(body.count(b'job_ok{job="a"}'), 1, "and emitted once")
t.ok(b'job_ok{job="a"} 7' in body, "the first file in name order (dup.prom) wins")
t.ok("already given by an earlier file" in dw.log(), "the log reports the duplicate")

# Two files disagreeing on a family's type: the later file is refused.
write("zz_type.prom", "# TYPE job_ok counter\njob_ok{job=\"c\"} 3\n")
t.ok(wait_for(lambda: dw.sample('drwatch_textfile_file_valid{file="zz_type.prom"}') == 0),
     "a file that retypes a family is refused")

# Fixing the bad file is picked up, and logged as recovered.
write("bad.prom", "broken{x=\"1\"} 2\n")
t.ok(wait_for(lambda: dw.sample('broken{x="1"}') == 2), "the fixed file is exported")
t.ok("is valid again" in dw.log(), "the recovery is logged")

# The directory disappears: up 0 with a reason, other collectors go on.
shutil.rmtree(d)
t.ok(wait_for(lambda: dw.sample('drwatch_collector_up{collector="textfile",target="%s"}' % d)
              == 0), "a missing directory sets up to 0")
m = dw.metrics()
t.ok(m.get('drwatch_collector_errors_total{collector="textfile",reason="read_dir",'
           'target="%s"}' % d, 0) >= 1, "with reason read_dir")
t.is_(m.get('drwatch_collector_up{collector="self",target="drwatch"}'), 1.0,
      "the self collector is unaffected")
t.ok(not any(k.startswith("job_ok") for k in m), "a failed target's samples are not served stale")
dw.stop_clean(t)
t.done()
