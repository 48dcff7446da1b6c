"""End-to-end: the ledger replicated on Raft (docs/cluster.md), three real
`quipu node` replicas on loopback written by `quipu cluster init`.

What is checked: the homes init writes; writes go to the leader and a
follower answers 307 naming it (and `quipu client` follows); reads on a
follower are 307 unless ?consistency=stale; every replica's journal head
hash agrees at the same position; kill -9 of the leader under load elects a
new leader within seconds, the clients retry with the same ids, and at the
end every transfer is present exactly once on every replica with the
model's balances; a follower killed and restarted catches up.
"""
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUIPU = os.environ.get("QUIPU_BIN", os.path.join(ROOT, "build", "quipu"))
REPLICAS = 3
LEDGER = 1
ACCOUNTS = 8
FAILOVER_MAX_S = 5.0
KILLS = int(os.environ.get("QUIPU_CLUSTER_KILLS", "3"))  # leader kills under load; more with the flag


def free_base_port():
    """A base port P with P .. P+5 free on loopback, below Linux's ephemeral
    range (32768+) so no outgoing connection can take them later."""
    for _ in range(200):
        base = random.randrange(20000, 32768 - 2 * REPLICAS, 2)
        socks = []
        try:
            for p in range(base, base + 2 * REPLICAS):
                s = socket.socket()
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free ports")


class Cluster:
    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "cluster")
        self.base = free_base_port()
        out = subprocess.run([QUIPU, "cluster", "init", "--replicas", str(REPLICAS), "--dir",
                              self.dir, "--base-port", str(self.base)],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        self.init_stdout = out.stdout
        self.key = re.search(r"qpk_[0-9a-f_]+", out.stdout).group(0)
        self.urls = [f"http://127.0.0.1:{self.base + 2 * k}" for k in range(REPLICAS)]
        self.procs = [None] * REPLICAS
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {self.key}"

    def home(self, k):
        return os.path.join(self.dir, f"node{k}")

    def start(self, k):
        log = open(os.path.join(self.home(k), "node.log"), "ab")
        self.procs[k] = subprocess.Popen([QUIPU, "node", "--home", self.home(k)], stdout=log,
                                         stderr=subprocess.STDOUT)
        log.close()

    def kill(self, k, sig=signal.SIGKILL):
        p = self.procs[k]
        p.send_signal(sig)
        p.wait(timeout=60)
        self.procs[k] = None

    def stop_all(self):
        for k in range(len(self.procs)):
            if self.procs[k] is not None:
                self.kill(k, signal.SIGTERM)

    def get(self, k, path, **kw):
        return self.session.get(self.urls[k] + path, allow_redirects=False, timeout=10, **kw)

    def status(self, k):
        try:
            r = self.get(k, "/v1/cluster/status")
            return r.json() if r.status_code == 200 else None
        except requests.RequestException:
            return None

    def leader(self, timeout=10.0, exclude=()):
        """Polls until one live replica says it leads; its index."""
        deadline = time.monotonic() + timeout
        seen = {}
        while time.monotonic() < deadline:
            for k in range(len(self.procs)):
                if k in exclude or self.procs[k] is None:
                    continue
                s = self.status(k)
                seen[k] = s and {f: s.get(f) for f in ("role", "term", "commit_index",
                                                         "applied_index", "leader")}
                if s and s["role"] == "leader":
                    return k
            time.sleep(0.05)
        tails = []  # what each replica said last, and how a dead one ended
        for k in range(len(self.procs)):
            p = self.procs[k]
            if p is not None and p.poll() is not None:
                tails.append("node%d exited with %s" % (k, p.returncode))
            try:
                with open(os.path.join(self.home(k), "node.log"), errors="replace") as f:
                    tails.append("node%d:\n%s" % (k, "".join(f.readlines()[-12:])))
            except OSError:
                pass
        raise AssertionError("no leader within %.1f s (last seen: %r)\n%s"
                             % (timeout, seen, "\n".join(tails)))

    def post(self, path, body, timeout=30.0):
        """POSTs to any replica, following 307 by hand and retrying 503 and
        refused connections, until a 200; its JSON."""
        deadline = time.monotonic() + timeout
        k = random.randrange(REPLICAS)
        url = self.urls[k] + path
        while time.monotonic() < deadline:
            try:
                r = self.session.post(url, json=body, allow_redirects=False, timeout=10)
            except requests.RequestException:
                r = None
            if r is not None and r.status_code == 200:
                return r.json()
            if r is not None and r.status_code == 307:
                assert r.json()["error"]["code"] == "not_leader"
                url = r.headers["Location"]
                continue
            assert r is None or r.status_code == 503, (r.status_code, r.text)
            time.sleep(0.05)
            k = (k + 1) % len(self.urls)
            url = self.urls[k] + path
        raise AssertionError(f"POST {path} not acknowledged within {timeout} s")

    def audit(self, k):
        r = self.get(k, "/v1/audit", params={"consistency": "stale"})
        assert r.status_code == 200, r.text
        return r.json()

    def converged(self, live, timeout=20.0):
        """Waits until the live replicas' journals agree; returns the audit."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                audits = [self.audit(k) for k in live]
            except requests.RequestException:  # a restarted replica not listening yet
                audits = [{"journal_seq": None, "head_hash": k} for k in live]
            heads = {(a["journal_seq"], a["head_hash"]) for a in audits}
            if len(heads) == 1:
                return audits[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"replicas disagree: {heads}\n" + self.describe(live))
            time.sleep(0.1)

    def describe(self, live):
        """What each replica says of itself and the end of its log: the
        evidence a failed wait leaves behind.  QUIPU_E2E_KEEP=dir copies the
        replicas' homes (logs, journals, Raft logs) there as well."""
        out = []
        keep = os.environ.get("QUIPU_E2E_KEEP")
        if keep:
            dest = os.path.join(keep, os.path.basename(os.path.dirname(self.dir)))
            shutil.copytree(self.dir, dest, dirs_exist_ok=True)
            out.append("the replicas' homes are copied to " + dest)
        for k in live:
            out.append("node%d status: %r" % (k, self.status(k)))
            try:
                with open(os.path.join(self.home(k), "node.log"), errors="replace") as f:
                    lines = [ln for ln in f if " answered " not in ln]  # not each 503
                out.append("node%d log:\n%s" % (k, "".join(lines[-25:])))
            except OSError:
                pass
        return "\n".join(out)


# The cluster always runs `quipu node`: once (the node runner) is enough.
pytestmark = pytest.mark.skipif(os.environ.get("QUIPU_E2E_RUNNER", "serve") != "node",
                                reason="cluster replicas are nodes; runs with QUIPU_E2E_RUNNER=node")


@pytest.fixture
def cluster():
    with tempfile.TemporaryDirectory(prefix="quipu-cluster-") as tmp:
        c = Cluster(tmp)
        try:
            for k in range(REPLICAS):
                c.start(k)
            yield c
        finally:
            c.stop_all()


def accounts_body():
    return [{"id": i, "ledger": LEDGER, "code": 1} for i in range(1, ACCOUNTS + 1)]


def transfer(tid, rng):
    a, b = rng.sample(range(1, ACCOUNTS + 1), 2)
    return {"id": tid, "debit_account_id": a, "credit_account_id": b,
            "amount": str(rng.randrange(1, 1000)), "ledger": LEDGER, "code": 1}


def acknowledged(results):
    return all(r["result"] in ("ok", "exists") for r in results["results"])


def test_init_writes_every_home_and_refuses_bad_arguments(tmp_path):
    out = subprocess.run([QUIPU, "cluster", "init", "--replicas", "3", "--dir",
                          str(tmp_path / "c"), "--base-port", "31000"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    key = re.search(r"qpk_[0-9a-f_]+", out.stdout).group(0)
    ids = set()
    for k in range(3):
        cfg = json.load(open(tmp_path / "c" / f"node{k}" / "node.json"))
        assert cfg["listen"] == f"127.0.0.1:{31000 + 2 * k}"
        cl = cfg["modules"]["ledger"]["cluster"]
        assert cl["self"] == k
        assert [r["raft"] for r in cl["replicas"]] == [f"127.0.0.1:{31001 + 2 * j}"
                                                      for j in range(3)]
        ids.add(cl["id"])
        keys = open(tmp_path / "c" / f"node{k}" / "keys" / "api_keys").read()
        assert key.split("_")[1] in keys  # the same key id in every home
    assert len(ids) == 1
    again = subprocess.run([QUIPU, "cluster", "init", "--replicas", "3", "--dir",
                            str(tmp_path / "c")], capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and "exists" in again.stderr
    bad = subprocess.run([QUIPU, "cluster", "init", "--replicas", "0", "--dir",
                          str(tmp_path / "d")], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--replicas" in bad.stderr


def test_writes_go_to_the_leader_and_journals_agree(cluster):
    c = cluster
    lead = c.leader()
    follower = (lead + 1) % REPLICAS
    st = c.status(follower)
    assert st["role"] == "follower" and st["leader"] == c.urls[lead]
    assert [r["http"] for r in st["replicas"]] == c.urls
    r = c.session.post(c.urls[lead] + "/v1/accounts", json=accounts_body(), timeout=10)
    assert r.status_code == 200 and acknowledged(r.json()), r.text
    # A follower's write: 307 to the leader, nothing applied there.
    r = c.session.post(c.urls[follower] + "/v1/transfers", json=[transfer(100, random.Random(1))],
                       allow_redirects=False, timeout=10)
    assert r.status_code == 307
    assert r.headers["Location"] == c.urls[lead] + "/v1/transfers"
    assert r.json()["error"] == {"code": "not_leader", "leader": c.urls[lead],
                                 "message": r.json()["error"]["message"], "path": ""}
    # Reads: 307 by default on a follower, served with ?consistency=stale.
    r = c.get(follower, "/v1/accounts/1")
    assert r.status_code == 307 and r.headers["Location"].startswith(c.urls[lead])
    # `quipu client` follows the 307 with its key.
    env = dict(os.environ, QUIPU_KEY=c.key, QUIPU_URL=c.urls[follower])
    out = subprocess.run([QUIPU, "client", "transfers", "create"], input=json.dumps(
        [transfer(101, random.Random(2))]), capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0 and '"ok"' in out.stdout, out.stdout + out.stderr
    audit = c.converged(range(REPLICAS))
    assert audit["transfers"] == "1" and audit["accounts"] == str(ACCOUNTS)
    r = c.get(follower, "/v1/transfers/101", params={"consistency": "stale"})
    assert r.status_code == 200 and int(r.headers["X-Quipu-Applied-Index"]) >= 2
    assert c.get(follower, "/v1/transfers/100", params={"consistency": "stale"}).status_code == 404


class Load:
    """Client threads submitting transfer batches until stopped; each batch
    is retried with the same ids until acknowledged."""

    def __init__(self, c, threads=3, batch=20):
        self.c, self.batch, self.stop = c, batch, threading.Event()
        self.sent = {}  # id -> transfer, every one acknowledged
        self.lock = threading.Lock()
        self.errors = []
        self.threads = [threading.Thread(target=self.run, args=(t,)) for t in range(threads)]

    def run(self, t):
        rng = random.Random(t)
        next_id = 1_000_000 * (t + 1)
        try:
            while not self.stop.is_set():
                body = [transfer(next_id + i, rng) for i in range(self.batch)]
                next_id += self.batch
                res = self.c.post("/v1/transfers", body)
                assert acknowledged(res), res
                with self.lock:
                    for tr in body:
                        self.sent[tr["id"]] = tr
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.errors.append(repr(e))

    def __enter__(self):
        for th in self.threads:
            th.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for th in self.threads:
            th.join(timeout=120)

    def count(self):
        with self.lock:
            return len(self.sent)


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def check_everything(c, load, live):
    audit = c.converged(live)
    assert audit["invariant_ok"] and audit["totals_balanced"]
    assert int(audit["transfers"]) == len(load.sent), (audit["transfers"], len(load.sent))
    model = {i: 0 for i in range(1, ACCOUNTS + 1)}
    for tr in load.sent.values():
        model[tr["debit_account_id"]] -= int(tr["amount"])
        model[tr["credit_account_id"]] += int(tr["amount"])
    ids = list(load.sent)
    for k in live:
        for start in range(0, len(ids), 4000):
            chunk = ids[start:start + 4000]
            r = c.session.post(c.urls[k] + "/v1/transfers/lookup?consistency=stale",
                               json={"ids": chunk}, timeout=30)
            assert r.status_code == 200, r.text
            got = r.json()["transfers"]
            assert sorted(int(t["id"]) for t in got) == sorted(chunk)
            for t in got:
                assert t["amount"] == load.sent[int(t["id"])]["amount"]
        r = c.session.post(c.urls[k] + "/v1/accounts/lookup?consistency=stale",
                           json={"ids": list(model)}, timeout=30)
        assert len(r.json()["accounts"]) == ACCOUNTS
        for a in r.json()["accounts"]:
            net = int(a["credits_posted"]) - int(a["debits_posted"])
            assert net == model[int(a["id"])], (k, a)


def test_leader_killed_under_load_loses_nothing(cluster):
    c = cluster
    c.leader()
    assert acknowledged(c.post("/v1/accounts", accounts_body()))
    failovers = []
    with Load(c) as load:
        for _ in range(KILLS):
            wait_for(lambda n=load.count(): load.count() >= n + 200, 30, "no progress")
            old = c.leader()
            t0 = time.monotonic()
            c.kill(old)
            new = c.leader(timeout=FAILOVER_MAX_S, exclude=(old,))
            n = load.count()
            wait_for(lambda: load.count() > n, FAILOVER_MAX_S, "no write after failover")
            failovers.append(time.monotonic() - t0)
            assert new != old
            c.start(old)
        wait_for(lambda n=load.count(): load.count() >= n + 200, 30, "no progress at the end")
    assert not load.errors, load.errors
    assert max(failovers) < FAILOVER_MAX_S, failovers
    failovers.sort()
    print("failover (kill -9 -> first acknowledged write) s: p50 %.2f max %.2f over %d kills"
          % (failovers[len(failovers) // 2], failovers[-1], len(failovers)))
    check_everything(c, load, range(REPLICAS))


def test_follower_killed_and_restarted_catches_up(cluster):
    c = cluster
    lead = c.leader()
    assert acknowledged(c.post("/v1/accounts", accounts_body()))
    follower = (lead + 1) % REPLICAS
    c.kill(follower)
    with Load(c, threads=2) as load:
        wait_for(lambda: load.count() >= 400, 30, "no progress with one replica down")
    assert not load.errors, load.errors
    live = [k for k in range(REPLICAS) if k != follower]
    before = c.converged(live)
    c.start(follower)
    wait_for(lambda: c.status(follower) is not None, 10, "the follower did not come back")
    after = c.converged(range(REPLICAS))
    assert after["journal_seq"] == before["journal_seq"]
    check_everything(c, load, range(REPLICAS))
    # Offline, `quipu verify` replays every journal and finds the same head.
    c.stop_all()
    heads = set()
    for k in range(REPLICAS):
        out = subprocess.run([QUIPU, "verify", "--data", c.home(k)], capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0 and "result:    OK" in out.stdout, out.stdout + out.stderr
        heads.add(re.search(r"head hash: ([0-9a-f]+)", out.stdout).group(1))
    assert heads == {after["head_hash"]}


def test_two_replicas_down_stops_writes_until_one_returns(cluster):
    c = cluster
    lead = c.leader()
    assert acknowledged(c.post("/v1/accounts", accounts_body()))
    others = [k for k in range(REPLICAS) if k != lead]
    for k in others:
        c.kill(k)
    rng = random.Random(7)
    lost = [transfer(500 + i, rng) for i in range(3)]
    # No majority: nothing is acknowledged (no split brain); the lone
    # replica steps down and answers 503 no_leader (or a refused write).
    deadline = time.monotonic() + 3.0
    statuses = set()
    while time.monotonic() < deadline:
        try:
            r = c.session.post(c.urls[lead] + "/v1/transfers", json=lost, allow_redirects=False,
                               timeout=10)
            statuses.add(r.status_code)
        except requests.RequestException:
            statuses.add("error")
        time.sleep(0.2)
    assert 200 not in statuses and 503 in statuses, statuses
    assert c.status(lead)["role"] != "leader"
    c.start(others[0])
    res = c.post("/v1/transfers", lost, timeout=20)  # the same ids: applied once
    assert acknowledged(res), res
    live = [lead, others[0]]
    audit = c.converged(live)
    assert audit["transfers"] == "3"


def test_a_deposed_leader_does_not_serve_a_stale_read(cluster):
    """SIGSTOP the leader, let the others elect a new one and take a write,
    SIGCONT the old one and read from it at once: its barrier fails, so it
    answers 307 (or 503), never the state from before the write."""
    c = cluster
    old = c.leader()
    assert acknowledged(c.post("/v1/accounts", accounts_body()))
    r = c.get(old, "/v1/accounts/1")  # served after a barrier: the leader's own read
    assert r.status_code == 200 and int(r.headers["X-Quipu-Applied-Index"]) >= 2, r.text
    c.procs[old].send_signal(signal.SIGSTOP)
    try:
        new = c.leader(timeout=FAILOVER_MAX_S, exclude=(old,))
        r = c.session.post(c.urls[new] + "/v1/transfers", json=[transfer(900, random.Random(9))],
                           timeout=10)
        assert r.status_code == 200 and acknowledged(r.json()), r.text
    finally:
        c.procs[old].send_signal(signal.SIGCONT)
    r = c.get(old, "/v1/transfers/900")
    assert r.status_code in (307, 503), (r.status_code, r.text)
    if r.status_code == 307:
        assert r.headers["Location"].startswith(c.urls[new])
    # Many concurrent reads on the new leader share barriers and all succeed.
    results = []

    def reader():
        for _ in range(20):
            results.append(c.get(new, "/v1/transfers/900").status_code)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert results == [200] * 80, results


def cluster_cmd(c, *args):
    env = dict(os.environ, QUIPU_KEY=c.key)
    return subprocess.run([QUIPU, "cluster", *args, "--dir", c.dir], capture_output=True,
                          text=True, env=env, timeout=60)


def test_add_a_fourth_replica_under_load_then_remove_one(cluster):
    c = cluster
    lead = c.leader()
    assert acknowledged(c.post("/v1/accounts", accounts_body()))
    with Load(c, threads=2) as load:
        wait_for(lambda: load.count() >= 200, 30, "no progress before the add")
        out = cluster_cmd(c, "add")
        assert out.returncode == 0, out.stdout + out.stderr
        assert "quipu node --home" in out.stdout and "node3" in out.stdout
        cfg = json.load(open(os.path.join(c.home(3), "node.json")))
        cl = cfg["modules"]["ledger"]["cluster"]
        assert cl["join"] is True and cl["replicas"][cl["self"]]["id"] == 4
        assert cfg["listen"] == f"127.0.0.1:{c.base + 6}"
        c.urls.append(f"http://127.0.0.1:{c.base + 6}")
        c.procs.append(None)
        c.start(3)
        # It catches up and is promoted to voter; every replica knows its URL.
        def promoted():
            s = c.status(lead)
            return s is not None and any(r["id"] == 4 and r["role"] == "voter"
                                         for r in s["replicas"])
        wait_for(promoted, 30, "the new replica was not promoted to voter")
        n = load.count()
        wait_for(lambda: load.count() >= n + 200, 30, "no progress after the add")
    assert not load.errors, load.errors
    for k in range(4):
        st = c.status(k)
        assert {r["id"]: r["http"] for r in st["replicas"]} == {
            j + 1: c.urls[j] for j in range(4)}, st
    check_everything(c, load, range(4))  # same head hash and position on all four
    # Adding it again: 409; bad input: 400 naming the field; a follower: 307.
    body = {"id": 4, "raft": f"127.0.0.1:{c.base + 7}", "http": c.urls[3]}
    r = c.session.post(c.urls[lead] + "/v1/cluster/replicas", json=body, timeout=10)
    assert r.status_code == 409 and r.json()["error"]["code"] == "replica_exists", r.text
    r = c.session.post(c.urls[lead] + "/v1/cluster/replicas",
                       json=dict(body, id=9), timeout=10)  # the same addresses
    assert r.status_code == 409, r.text
    for bad, field in [({"id": 0, "raft": "h:1", "http": "http://h:2"}, "id"),
                       ({"id": 9, "raft": "nohost", "http": "http://h:2"}, "raft"),
                       ({"id": 9, "raft": "h:70000", "http": "http://h:2"}, "raft"),
                       ({"id": 9, "raft": "h:1", "http": "ftp://h:2"}, "http"),
                       ({"id": 9, "raft": "h:1"}, "http"),
                       ({"id": 9, "raft": "h:1", "http": "http://h:2", "x": 1}, "x")]:
        r = c.session.post(c.urls[lead] + "/v1/cluster/replicas", json=bad, timeout=10)
        assert r.status_code == 400 and r.json()["error"]["path"] == field, (bad, r.text)
    r = c.session.delete(c.urls[lead] + "/v1/cluster/replicas/abc", timeout=10)
    assert r.status_code == 400 and r.json()["error"]["path"] == "id", r.text
    r = c.session.delete(c.urls[lead] + "/v1/cluster/replicas/77", timeout=10)
    assert r.status_code == 404 and r.json()["error"]["code"] == "replica_not_found", r.text
    follower = next(k for k in range(4) if k != lead)
    r = c.session.delete(c.urls[follower] + "/v1/cluster/replicas/2", allow_redirects=False,
                         timeout=10)
    assert r.status_code == 307 and r.headers["Location"].startswith(c.urls[lead]), r.text
    # Remove a follower (not the leader): status shows 3, writes go on, it gets nothing more.
    gone = next(k for k in range(4) if k != lead)
    out = cluster_cmd(c, "remove", "--replica", str(gone))
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"node{gone}" in out.stdout and "stop its process" in out.stdout
    st = c.status(lead)
    assert sorted(r["id"] for r in st["replicas"]) == sorted(
        j + 1 for j in range(4) if j != gone), st
    before = c.status(gone)["applied_index"]
    live = [k for k in range(4) if k != gone]
    for i in range(3):
        assert acknowledged(c.post("/v1/transfers", [transfer(7000 + i, random.Random(i))]))
    c.converged(live)
    time.sleep(0.5)  # what the removed one would have received by now
    assert c.status(gone)["applied_index"] == before
    assert c.audit(gone)["transfers"] != c.audit(lead)["transfers"]
    assert c.status(gone)["role"] != "leader"
    again = cluster_cmd(c, "remove", "--id", str(gone + 1))
    assert again.returncode == 1 and again.stderr, again.stdout + again.stderr
    usage = cluster_cmd(c, "remove")
    assert usage.returncode == 2
    # Remove the leader itself: it answers 200 and steps down; the other two elect a leader
    # among themselves and take writes.
    r = c.session.delete(c.urls[lead] + f"/v1/cluster/replicas/{lead + 1}", timeout=10)
    assert r.status_code == 200, r.text
    rest = [k for k in live if k != lead]
    new = c.leader(timeout=FAILOVER_MAX_S, exclude=(lead, gone))
    assert new in rest
    assert sorted(x["id"] for x in c.status(new)["replicas"]) == sorted(k + 1 for k in rest)
    r = c.session.post(c.urls[new] + "/v1/transfers", json=[transfer(7100, random.Random(5))],
                       timeout=10)
    assert r.status_code == 200 and acknowledged(r.json()), r.text
    c.converged(rest)


def test_join_must_be_a_boolean(tmp_path):
    out = subprocess.run([QUIPU, "cluster", "init", "--replicas", "1", "--dir",
                          str(tmp_path / "c"), "--base-port", "31100"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    path = tmp_path / "c" / "node0" / "node.json"
    cfg = json.load(open(path))
    cfg["modules"]["ledger"]["cluster"]["join"] = "yes"
    json.dump(cfg, open(path, "w"))
    r = subprocess.run([QUIPU, "node", "--home", str(tmp_path / "c" / "node0")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "cluster.join must be true or false" in r.stderr, r.stderr
