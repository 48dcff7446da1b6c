"""Measures a replica's restart and catch-up with a large ledger (docs/cluster.md,
"Snapshots", "Measured").  Not a test (no test_ prefix): run by hand,

  QUIPU_BIN=build/quipu /usr/bin/python3 tests/e2e/cluster_restart_measure.py \\
      --accounts 1000000 --transfers 400000 [--threshold 1024 --trailing 512] [--behind 200]

Three replicas; ACCOUNTS accounts and TRANSFERS transfers in batches of 8190; then
a follower is stopped (SIGTERM) and started again: the time until it answers
HTTP and until its journal head agrees with the others.  With --behind N the
follower is killed first, N entries of 8190 transfers are written, and the
time for it to catch up after its restart is measured (from a snapshot when N
exceeds the trailing entries).
"""
import argparse
import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_cluster_snapshot as t  # noqa: E402

BATCH = 8190


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=1000000)
    ap.add_argument("--transfers", type=int, default=400000)
    ap.add_argument("--threshold", type=int, default=1024)
    ap.add_argument("--trailing", type=int, default=512)
    ap.add_argument("--behind", type=int, default=0)
    a = ap.parse_args()
    t.THRESHOLD, t.TRAILING, t.ACCOUNTS = a.threshold, a.trailing, a.accounts
    with tempfile.TemporaryDirectory(prefix="quipu-measure-") as tmp:
        c = t.Cluster(tmp)
        try:
            run(c, a)
        finally:
            c.stop_all()


def timed(label, fn):
    t0 = time.monotonic()
    out = fn()
    print(f"{label}: {time.monotonic() - t0:.2f} s", flush=True)
    return out


def run(c, a):
    for k in range(t.REPLICAS):
        c.start(k)
    c.leader()

    def accounts():
        for start in range(1, a.accounts + 1, BATCH):
            body = [{"id": i, "ledger": t.LEDGER, "code": 1}
                    for i in range(start, min(start + BATCH, a.accounts + 1))]
            res = c.post("/v1/accounts", body)
            bad = [r for r in res["results"] if r["result"] not in ("ok", "exists")]
            assert not bad, bad[:3]
    timed(f"{a.accounts} accounts", accounts)
    c.next_id = 10 ** 12
    timed(f"{a.transfers} transfers", lambda: c.entries(a.transfers // BATCH, size=BATCH))
    audit = c.converged(range(t.REPLICAS), timeout=600)
    print(f"journal: {audit['journal_seq']} records, {int(audit['journal_bytes']) >> 20} MiB")
    f = (c.leader() + 1) % t.REPLICAS
    for rnd in range(2):
        c.kill(f, signal.SIGTERM)
        t0 = time.monotonic()
        c.start(f)
        t.wait_for(lambda: c.status(f) is not None, 600, "the replica answers")
        up = time.monotonic() - t0
        c.converged(range(t.REPLICAS), timeout=600)
        print(f"restart {rnd + 1}: answers HTTP after {up:.2f} s, agrees after "
              f"{time.monotonic() - t0:.2f} s; {len(t.raft_files(c, f))} files in raft/",
              flush=True)
    print("the restarted replica's log:\n" + "".join(c.log(f).splitlines(True)[-12:]))
    if a.behind:
        c.kill(f)
        timed(f"{a.behind} entries of {BATCH} transfers while it is down",
              lambda: c.entries(a.behind, size=BATCH))
        t0 = time.monotonic()
        c.start(f)
        c.converged(range(t.REPLICAS), timeout=1800)
        log = c.log(f)
        how = "from a snapshot" if "catching up from journal record" in log else "from the log"
        print(f"catch-up {how}: {time.monotonic() - t0:.2f} s")


if __name__ == "__main__":
    main()
