"""sqlite_fold.py — the peer of project_bench.sx's full replay: the same
events as JSON rows of one SQLite table, folded by Python with json.loads per
row into the same projection state.

    python3 sqlite_fold.py build DB EVENTS     writes events 1..EVENTS
    python3 sqlite_fold.py fold DB             prints "folded through seq S, count C, cents T"
"""
import json
import sqlite3
import sys

STREAM = "bench/orders"


def build(path, n):
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE events (stream TEXT NOT NULL, seq INTEGER NOT NULL, "
               "event TEXT NOT NULL, PRIMARY KEY (stream, seq))")
    rows = ((STREAM, seq, json.dumps({"stream": STREAM, "seq": seq, "type": "placed",
                                      "at": seq - 1, "data": {"cents": (seq - 1) % 997}}))
            for seq in range(1, n + 1))
    db.executemany("INSERT INTO events VALUES (?, ?, ?)", rows)
    db.commit()
    db.close()


def fold(path):
    db = sqlite3.connect(path)
    state = {"value": {"count": 0, "cents": 0}, "seq": 0}
    for (text,) in db.execute("SELECT event FROM events WHERE stream = ? ORDER BY seq", (STREAM,)):
        e = json.loads(text)
        if e["seq"] > state["seq"]:
            v = state["value"]
            state = {"value": {"count": v["count"] + 1, "cents": v["cents"] + e["data"]["cents"]},
                     "seq": e["seq"]}
    db.close()
    print("folded through seq %d, count %d, cents %d"
          % (state["seq"], state["value"]["count"], state["value"]["cents"]))


if __name__ == "__main__":
    if sys.argv[1] == "build":
        build(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "fold":
        fold(sys.argv[2])
    else:
        sys.exit("sqlite_fold.py: unknown mode %s (build or fold)" % sys.argv[1])
