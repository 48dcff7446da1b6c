#!/usr/bin/env python3
"""`make bench-cluster` (issue 19): the ledger replicated on Raft, 3 replicas
on loopback, against one `quipu serve` measured in the same run.

Figures (RESULT name value unit, like the other benches):
  single_node_transfers_per_s      one durable node, batches of 8,190
  cluster_transfers_per_s          3 replicas, batches of 8,190, acknowledged
                                   once committed by a majority and applied
  cluster_single_node_ratio        the two above, divided
  cluster_batch1_requests_per_s    batch-of-1 requests/s (CONNECTIONS clients)
  cluster_batch1_p99_ms            their p99 latency
  cluster_failover_p50_s / _max_s  kill -9 of the leader -> first write
                                   acknowledged by the new leader, over KILLS
  cluster_load_retries             loads re-run because the leader changed
                                   during them (should be 0)

The load is `quipu client load` (src/cli/client_load.c) pointed at the
leader; the cluster is test_cluster.py's Cluster.  --quick is the small run
(`make bench-cluster-quick`).
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

import test_cluster  # noqa: E402  (the Cluster helper of the e2e tests)
from test_cluster import REPLICAS, Cluster, free_base_port  # noqa: E402

LOAD_ACCOUNTS = 1000


def result(name, value, unit, decimals=0):
    print("RESULT %s %.*f %s" % (name, decimals, value, unit), flush=True)


def load(quipu, url, key, batch, connections, duration):
    """Runs `quipu client load`; (transfers/s, requests/s, p99 ms)."""
    env = dict(os.environ, QUIPU_URL=url, QUIPU_KEY=key)
    out = subprocess.run([quipu, "client", "load", "--batch", str(batch), "--connections",
                          str(connections), "--duration", str(duration), "--accounts",
                          str(LOAD_ACCOUNTS)], capture_output=True, text=True, env=env,
                         timeout=duration + 120)
    text = out.stdout + out.stderr
    sys.stdout.write(text)
    if out.returncode != 0:
        return None
    reqs = float(re.search(r"requests:\s+\d+ \((\d+)/s\)", text).group(1))
    tps = float(re.search(r"transfers:\s+\d+ ok \((\d+)/s\)", text).group(1))
    p99 = float(re.search(r"p99 ([0-9.]+) ms", text).group(1))
    return tps, reqs, p99


def load_leader(quipu, c, batch, connections, duration, attempts=3):
    """load() against the cluster's leader.  A leader change during the run
    (the load then fails: its requests get 307) is retried on the new leader,
    at most `attempts` times in all; each retry is said."""
    for attempt in range(attempts):
        lead = c.leader(timeout=30)
        got = load(quipu, c.urls[lead], c.key, batch, connections, duration)
        if got is not None:
            return got
        print("bench-cluster: the load failed (a leader change?) - attempt %d of %d"
              % (attempt + 1, attempts), flush=True)
        c.retries += 1
    raise SystemExit("bench-cluster: the cluster load failed %d times" % attempts)


def single_node(quipu, tmp, args):
    """One `quipu serve` (durable, its own journal and fsync)."""
    data = os.path.join(tmp, "single")
    key = subprocess.run([quipu, "keys", "create", "--data", data, "--name", "bench", "--scope",
                          "ledger:read,ledger:write"], capture_output=True, text=True,
                         check=True).stdout.strip()
    port = free_base_port()
    log = open(os.path.join(tmp, "single.log"), "wb")
    proc = subprocess.Popen([quipu, "serve", "--data", data, "--listen", f"127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("bench-cluster: the single node did not start")
            time.sleep(0.05)
        got = load(quipu, url, key, 8190, args.connections_big, args.duration)
        if got is None:
            raise SystemExit("bench-cluster: the single-node load failed")
        tps = got[0]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        log.close()
    return tps


def caught_up(c, k, timeout=30.0):
    """Waits until replica k follows and has applied what the leader had
    committed when it came back."""
    lead = c.leader(timeout=timeout, exclude=(k,))
    target = c.status(lead)["commit_index"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = c.status(k)
        if s and s["role"] == "follower" and s["applied_index"] >= target:
            return
        time.sleep(0.05)
    raise SystemExit("bench-cluster: replica %d did not catch up" % k)


def failovers(c, kills):
    """kill -9 of the leader -> the first write the new leader acknowledges."""
    body = [{"id": 0, "ledger": 1, "code": 1}]
    times = []
    next_id = 1 << 40
    for _ in range(kills):
        old = c.leader(timeout=30)
        t0 = time.monotonic()
        c.kill(old)
        while True:
            assert time.monotonic() - t0 < 30, "no new leader within 30 s"
            try:
                new = c.leader(timeout=0.02, exclude=(old,))
            except AssertionError:
                continue
            body[0]["id"] = next_id
            try:
                r = c.session.post(c.urls[new] + "/v1/accounts", json=body,
                                   allow_redirects=False, timeout=10)
            except requests.RequestException:
                continue
            if r.status_code == 200:
                next_id += 1
                break
            time.sleep(0.01)
        times.append(time.monotonic() - t0)
        print("failover %d: %.2f s (leader %d -> %d)" % (len(times), times[-1], old, new),
              flush=True)
        c.start(old)
        caught_up(c, old)
    return sorted(times)


def cluster_run(quipu, tmp, args):
    test_cluster.QUIPU = quipu
    c = Cluster(tmp)
    try:
        for k in range(REPLICAS):
            c.start(k)
        c.retries = 0
        big, _, _ = load_leader(quipu, c, 8190, args.connections_big, args.duration)
        _, reqs, p99 = load_leader(quipu, c, 1, args.connections_small, args.duration)
        times = failovers(c, args.kills)
    finally:
        c.stop_all()
    return big, reqs, p99, times, c.retries


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quipu", default=os.path.join(ROOT, "build", "quipu"))
    ap.add_argument("--quick", action="store_true", help="small counts (inside make test)")
    ap.add_argument("--kills", type=int, default=None, help="leader kills (default 20; quick 3)")
    ap.add_argument("--duration", type=int, default=None, help="seconds per load (10; quick 2)")
    ap.add_argument("--connections-big", type=int, default=4,
                    help="connections of the batches of 8,190, for both systems (4)")
    ap.add_argument("--connections-small", type=int, default=16)
    args = ap.parse_args()
    args.kills = args.kills if args.kills is not None else (3 if args.quick else 20)
    args.duration = args.duration or (2 if args.quick else 10)
    quipu = os.path.abspath(args.quipu)
    with tempfile.TemporaryDirectory(prefix="quipu-bench-cluster-") as tmp:
        single = single_node(quipu, tmp, args)
        big, reqs, p99, times, retries = cluster_run(quipu, tmp, args)
    print("cluster bench: 3 replicas on loopback, %s run, %d s per load, %d leader kills"
          % ("quick" if args.quick else "full", args.duration, args.kills))
    result("single_node_transfers_per_s", single, "transfers/s")
    result("cluster_transfers_per_s", big, "transfers/s")
    result("cluster_single_node_ratio", big / single if single else 0, "ratio", 2)
    result("cluster_batch1_requests_per_s", reqs, "requests/s")
    result("cluster_batch1_p99_ms", p99, "ms", 2)
    result("cluster_load_retries", retries, "runs")
    if times:
        result("cluster_failover_p50_s", times[len(times) // 2], "s", 2)
        result("cluster_failover_max_s", times[-1], "s", 2)


if __name__ == "__main__":
    main()
