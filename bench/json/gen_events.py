"""gen_events.py FILE MB — writes about MB megabytes of JSONL order events,
the same bytes for the same size (a fixed seed)."""
import json
import random
import sys

path, megabytes = sys.argv[1], float(sys.argv[2])
rng = random.Random(7)
types = ["placed", "paid", "shipped", "cancelled"]
limit = int(megabytes * 1e6)
written = 0
seq = 0
with open(path, "w", encoding="utf-8") as f:
    while written < limit:
        seq += 1
        event = {
            "stream": "orders", "seq": seq, "type": rng.choice(types),
            "at": 1700000000000 + seq * 1000,
            "data": {
                "id": rng.randint(1, 10**6), "customer": "c-%d" % rng.randint(1, 5000),
                "total": round(rng.uniform(1, 500), 2), "paid": rng.random() < 0.5,
                "note": None if rng.random() < 0.7 else "leave at the door, caf\u00e9 side",
                "items": [{"sku": "SKU-%d" % rng.randint(1, 999), "qty": rng.randint(1, 5)}
                          for _ in range(rng.randint(1, 3))],
            },
        }
        line = json.dumps(event, ensure_ascii=False) + "\n"
        f.write(line)
        written += len(line.encode("utf-8"))
