#!/bin/sh
# run.sh — how long `sx -e nil` takes to start, print nil and exit, against
# Python 3 doing the same (python3 -c 'print(None)'), in the same run.
#
#   bench/startup/run.sh [RUNS]          (default 200)
#
# Prints the median and the 90th percentile of each over RUNS runs, and the
# sx/python ratio of the medians. The target is a median under 10 ms. Uses
# $SX (default build/sx).
set -eu
SX=${SX:-build/sx}
RUNS=${1:-200}
python3 - "$SX" "$RUNS" <<'PY'
import subprocess, sys, time

def times(cmd, runs):
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
        ts.append((time.perf_counter() - t0) * 1000)
    ts.sort()
    return ts[len(ts) // 2], ts[len(ts) * 9 // 10]

sx, runs = sys.argv[1], int(sys.argv[2])
sx_med, sx_p90 = times([sx, "-e", "nil"], runs)
py_med, py_p90 = times(["python3", "-c", "print(None)"], runs)
print("sx -e nil:            median %.2f ms, p90 %.2f ms" % (sx_med, sx_p90))
print("python3 -c print:     median %.2f ms, p90 %.2f ms" % (py_med, py_p90))
print("sx/python median: %.2f; sx under 10 ms: %s" % (sx_med / py_med, "yes" if sx_med < 10 else "NO"))
PY
