"""baseline.py read FILE | write FILE N — Python 3's json module on the same
work as read_bench.sx and write_bench.sx, printing the same lines."""
import json
import sys
import time

if sys.argv[1] == "read":
    t0 = time.perf_counter()
    count, total = 0, 0.0
    with open(sys.argv[2], encoding="utf-8") as f:
        for line in f:
            e = json.loads(line)
            count += 1
            total += e["data"]["total"]
    print("read", count, time.perf_counter() - t0)
    print("checksum", "%.2f" % total)
else:
    n = int(sys.argv[3])
    events = []
    with open(sys.argv[2], encoding="utf-8") as f:
        for line in f:
            if len(events) >= n:
                break
            events.append(json.loads(line))
    t0 = time.perf_counter()
    size = sum(len(json.dumps(e, separators=(",", ":"), ensure_ascii=False)) for e in events)
    print("write", len(events), time.perf_counter() - t0, size)
