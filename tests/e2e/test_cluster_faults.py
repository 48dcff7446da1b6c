"""End-to-end: faults of the replicated ledger (docs/cluster.md, "Faults").

Three `quipu node` replicas on loopback behind raftproxy.py: each replica
listens for Raft on its own `raft_bind` port and the proxy listens on the
advertised `raft` ports, so a test can cut, delay and drop each direction of
each link.  Checked here: a leader cut off from both followers never
acknowledges a write while the majority elects a leader and does; after
healing the old leader steps down and every replica converges on the
majority's history; a flapping, delayed link still converges; the
Jepsen-style bank test (bank_util.py) against the cluster with leader kills
and partitions; a replica whose journal was corrupted while it was down
refuses to start, naming the record, while the other two keep serving.
"""
import itertools
import json
import os
import random
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import requests

import conftest as cf
from bank_util import Bank, Mover, Reader, seed_from_env
from raftproxy import RaftProxy
from test_cluster import (ACCOUNTS, LEDGER, REPLICAS, Cluster, Load, acknowledged, accounts_body,
                          check_everything, transfer, wait_for)

pytestmark = pytest.mark.skipif(os.environ.get("QUIPU_E2E_RUNNER", "serve") != "node",
                                reason="cluster replicas are nodes; runs with QUIPU_E2E_RUNNER=node")


def free_ports(n, taken=()):
    """n ports free on loopback, below the ephemeral range, none in taken."""
    ports = set()
    while len(ports) < n:
        p = random.randrange(20000, 32768)
        if p in taken:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
            ports.add(p)
        except OSError:
            continue
        finally:
            s.close()
    return sorted(ports)


class ProxiedCluster(Cluster):
    """A Cluster (test_cluster.py) whose replicas listen for Raft on private
    ports (`raft_bind`) behind a RaftProxy on the advertised ones.  Replica k
    has Raft server id k + 1 (what `cluster init` writes)."""

    def __init__(self, tmp):
        super().__init__(tmp)
        binds = free_ports(REPLICAS, taken=range(self.base, self.base + 2 * REPLICAS))
        routes = {}
        for k in range(REPLICAS):
            path = os.path.join(self.home(k), "node.json")
            with open(path) as f:
                cfg = json.load(f)
            replicas = cfg["modules"]["ledger"]["cluster"]["replicas"]
            for j, r in enumerate(replicas):
                r["raft_bind"] = f"127.0.0.1:{binds[j]}"
                routes[r["id"]] = (r["raft"], r["raft_bind"])
            with open(path, "w") as f:
                json.dump(cfg, f, indent=2)
        self.proxy = RaftProxy(routes).start()

    @staticmethod
    def sid(k):
        return k + 1

    def isolate(self, k):
        self.proxy.isolate(self.sid(k))

    def heal(self):
        self.proxy.heal_all()

    def stop_all(self):
        super().stop_all()
        self.proxy.stop()

    def read_log(self, k):
        with open(os.path.join(self.home(k), "node.log"), errors="replace") as f:
            return f.read()


@pytest.fixture
def pcluster():
    with tempfile.TemporaryDirectory(prefix="quipu-faults-") as tmp:
        c = ProxiedCluster(tmp)
        try:
            for k in range(REPLICAS):
                c.start(k)
            yield c
        finally:
            c.stop_all()


def test_raft_bind_behind_the_proxy_replicates(pcluster):
    c = pcluster
    lead = c.leader(timeout=15)
    assert acknowledged(c.post("/v1/accounts", accounts_body()))
    rng = random.Random(3)
    assert acknowledged(c.post("/v1/transfers", [transfer(10 + i, rng) for i in range(5)]))
    audit = c.converged(range(REPLICAS))
    assert audit["transfers"] == "5"
    # Every replica's traffic went through the proxy, both ways with the leader.
    for k in range(REPLICAS):
        if k != lead:
            assert c.proxy.count("accepted", c.sid(lead), c.sid(k)) >= 1
            assert c.proxy.count("accepted", c.sid(k), c.sid(lead)) >= 1


class Acked:
    """What check_everything (test_cluster.py) needs: every acknowledged transfer."""

    def __init__(self):
        self.sent = {}


def post_to(c, k, body):
    """One POST /v1/transfers to replica k, no redirects: (status, json or None)."""
    try:
        r = c.session.post(c.urls[k] + "/v1/transfers", json=body, allow_redirects=False,
                           timeout=5)
    except requests.RequestException:
        return "timeout", None
    try:
        return r.status_code, r.json()
    except ValueError:
        return r.status_code, None


def write_to_leader(c, body, exclude=(), timeout=20.0):
    """Sends body to whichever replica (not in exclude) leads, with the same
    ids until acknowledged; its JSON."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        k = c.leader(timeout=max(0.1, deadline - time.monotonic()), exclude=exclude)
        status, res = post_to(c, k, body)
        if status == 200:
            return res
        time.sleep(0.05)
    raise AssertionError("not acknowledged within %.0f s" % timeout)


def test_isolated_leader_never_acknowledges_and_the_majority_goes_on(pcluster):
    c = pcluster
    old = c.leader(timeout=15)
    assert acknowledged(c.post("/v1/accounts", accounts_body()))
    c.isolate(old)
    rng = random.Random(11)
    minority_ids, statuses, stop = [], {}, threading.Event()

    def minority_writer():
        tid = 900_000
        while not stop.is_set():
            body = [transfer(tid + i, rng) for i in range(4)]
            minority_ids.extend(t["id"] for t in body)
            tid += 4
            status, res = post_to(c, old, body)
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200:
                statuses.setdefault("acknowledged", []).append(res)
            time.sleep(0.02)
    writer = threading.Thread(target=minority_writer)
    writer.start()
    acked = Acked()
    try:
        t0 = time.monotonic()
        new = c.leader(timeout=10, exclude=(old,))
        rng2 = random.Random(12)
        for batch in range(20):
            body = [transfer(100_000 + 10 * batch + i, rng2) for i in range(10)]
            res = write_to_leader(c, body, exclude=(old,))
            assert acknowledged(res), res
            acked.sent.update((t["id"], t) for t in body)
        # The deposed leader notices it lost its majority and stops leading.
        wait_for(lambda: (c.status(old) or {}).get("role") != "leader", 10,
                 "the isolated leader still says it leads")
        wait_for(lambda: time.monotonic() - t0 > 3.0, 10, "")
    finally:
        stop.set()
        writer.join(timeout=30)
    print("minority answers:", statuses)
    assert 200 not in statuses, statuses  # the minority acknowledged nothing
    assert set(statuses) <= {307, 503, "timeout"}, statuses
    assert sum(statuses.values()) >= 5, statuses
    c.heal()
    # After healing: one leader on the majority's history; the old one follows.
    audit = c.converged(range(REPLICAS), timeout=30)
    st = c.status(old)
    assert st["role"] == "follower" and st["leader"] is not None, st
    assert new in range(REPLICAS)
    assert audit["invariant_ok"] and audit["totals_balanced"]
    check_everything(c, acked, range(REPLICAS))
    for k in range(REPLICAS):  # no write the minority saw survived anywhere
        r = c.session.post(c.urls[k] + "/v1/transfers/lookup?consistency=stale",
                           json={"ids": minority_ids}, timeout=30)
        assert r.status_code == 200 and r.json()["transfers"] == [], r.text[:300]
    # And the healed cluster takes writes again.
    assert acknowledged(c.post("/v1/transfers", [transfer(200_000, rng2)]))


def test_flapping_and_delayed_links_still_converge(pcluster):
    c = pcluster
    c.leader(timeout=15)
    assert acknowledged(c.post("/v1/accounts", accounts_body()))
    rng = random.Random(21)
    sids = [c.sid(k) for k in range(REPLICAS)]
    with Load(c, threads=2, batch=10) as load:
        deadline = time.monotonic() + 8.0
        while time.monotonic() < deadline:
            src, dst = rng.sample(sids, 2)
            kind = rng.random()
            if kind < 0.5:
                c.proxy.drop(src, dst)
            elif kind < 0.8:
                c.proxy.delay(src, dst, rng.uniform(0.01, 0.15))
            else:  # a short cut of one direction
                c.proxy.cut(src, dst)
                time.sleep(rng.uniform(0.1, 0.6))
                c.proxy.heal(src, dst)
            time.sleep(rng.uniform(0.05, 0.3))
        c.heal()
        wait_for(lambda n=load.count(): load.count() >= n + 100, 30, "no progress after healing")
    assert not load.errors, load.errors
    assert load.count() > 100
    dropped = sum(c.proxy.count("accepted", s, d) for s in sids for d in sids if s != d)
    assert dropped > 6  # the links were really re-dialled
    check_everything(c, load, range(REPLICAS))


def test_one_way_cuts_and_an_isolated_follower(pcluster):
    """The leader can still hear the followers but not reach them: they elect
    a new leader, whose higher term deposes the old one.  Then a follower
    cut off both ways: the other two go on, and it catches up when healed."""
    c = pcluster
    old = c.leader(timeout=15)
    assert acknowledged(c.post("/v1/accounts", accounts_body()))
    rng = random.Random(41)
    acked = Acked()

    def write(n, base, exclude=()):
        for b in range(n):
            body = [transfer(base + 10 * b + i, rng) for i in range(10)]
            assert acknowledged(write_to_leader(c, body, exclude=exclude))
            acked.sent.update((t["id"], t) for t in body)
    write(3, 300_000)
    for k in range(REPLICAS):
        if k != old:
            c.proxy.cut(c.sid(old), c.sid(k))
    new = c.leader(timeout=10, exclude=(old,))
    write(5, 310_000, exclude=(old,))
    wait_for(lambda: (c.status(old) or {}).get("role") != "leader", 10,
             "the leader that cannot send still leads")
    c.heal()
    c.converged(range(REPLICAS), timeout=30)
    lone = next(k for k in range(REPLICAS) if k != new)
    c.isolate(lone)
    write(5, 320_000, exclude=(lone,))
    live = [k for k in range(REPLICAS) if k != lone]
    ahead = c.converged(live)
    assert c.audit(lone)["journal_seq"] != ahead["journal_seq"]
    c.heal()
    assert c.converged(range(REPLICAS), timeout=30)["head_hash"] == ahead["head_hash"]
    check_everything(c, acked, range(REPLICAS))


# ------------------------------------------------------------ the bank test

BANK_ACCOUNTS = 8
BANK_FUNDING = 1_000_000
BANK_LEDGER = 840
BANK_EVENTS = int(os.environ.get("QUIPU_CLUSTER_BANK_EVENTS", "6"))  # kills + partitions
BANK_GAP_S = (1.0, 2.0)       # load between two faults
BANK_PARTITION_S = (1.0, 2.5)  # how long a leader stays cut off
BANK_DOWN_S = (0.1, 0.5)      # how long a killed leader stays dead


class ClusterBank(Bank):
    """bank_util's Bank against a cluster: requests go to the replica believed
    to lead; a 307 moves the belief to the leader it names, a 503 or no answer
    to the next replica, and both count as no answer (the mover re-sends the
    same ids, the reader reads again)."""

    def __init__(self, c, *args):
        super().__init__(None, *args)
        self.c, self.hint = c, 0

    def url(self, path):
        return self.c.urls[self.hint] + path

    def request(self, session, method, path, **kw):
        k = self.hint
        try:
            r = session.request(method, self.c.urls[k] + path, allow_redirects=False, **kw)
        except requests.RequestException:
            self.hint = (k + 1) % REPLICAS
            raise
        if r.status_code == 307:
            leader = r.json()["error"].get("leader")
            self.hint = self.c.urls.index(leader) if leader in self.c.urls else (k + 1) % REPLICAS
            raise requests.RequestException("not the leader")
        if r.status_code == 503:
            self.hint = (k + 1) % REPLICAS
            time.sleep(0.02)
            raise requests.RequestException("no leader")
        return r


class ClusterNemesis(threading.Thread):
    """Kills the leader with SIGKILL and restarts it, or cuts it off from both
    followers for a while and heals, `events` times at seeded moments."""

    def __init__(self, c, bank, rng, events):
        super().__init__(daemon=True)
        self.c, self.bank, self.rng, self.events = c, bank, rng, events
        self.kills = self.partitions = 0
        self.error = None

    def run(self):
        try:
            for i in range(self.events):
                if self.bank.stop.wait(self.rng.uniform(*BANK_GAP_S)):
                    return
                lead = self.c.leader(timeout=15)
                if i % 2 == 0:
                    self.c.kill(lead)
                    time.sleep(self.rng.uniform(*BANK_DOWN_S))
                    self.c.start(lead)
                    self.kills += 1
                else:
                    self.c.isolate(lead)
                    time.sleep(self.rng.uniform(*BANK_PARTITION_S))
                    self.c.heal()
                    self.partitions += 1
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e
            raise


def test_bank_on_the_cluster_under_leader_kills_and_partitions(pcluster):
    c = pcluster
    seed = seed_from_env()
    rng = random.Random(seed)
    print("\ncluster bank: seed %d (BANK_SEED=%d replays its choices)" % (seed, seed))
    c.leader(timeout=15)
    source, ids = 7_000_000, list(range(7_000_001, 7_000_001 + BANK_ACCOUNTS))
    assert acknowledged(c.post("/v1/accounts", cf.accounts(source, ledger=BANK_LEDGER)))
    assert acknowledged(c.post("/v1/accounts", cf.accounts(
        *ids, ledger=BANK_LEDGER, flags=["debits_must_not_exceed_credits"])))
    assert acknowledged(c.post("/v1/transfers", [
        cf.transfer(7_100_000 + i, source, a, BANK_FUNDING, ledger=BANK_LEDGER)
        for i, a in enumerate(ids)]))
    bank = ClusterBank(c, c.key, BANK_LEDGER, source, ids, BANK_FUNDING)
    # Reads are linearizable (a Raft barrier before each read on the leader,
    # docs/cluster.md "Reads"): an audit going back is a violation.
    bank.stale_reads_are_violations = True
    bank.up.set()
    tids = itertools.count(8_000_000_000)
    movers = [Mover(bank, random.Random(rng.getrandbits(64)), tids) for _ in range(3)]
    readers = [Reader(bank) for _ in range(2)]
    nemesis = ClusterNemesis(c, bank, random.Random(rng.getrandbits(64)), BANK_EVENTS)
    t0 = time.monotonic()
    try:
        for t in movers + readers + [nemesis]:
            t.start()
        nemesis.join(timeout=180)
        assert not nemesis.is_alive(), "the nemesis is stuck"
        time.sleep(1.5)
    finally:
        bank.stop.set()
        for t in movers + readers:
            t.join(timeout=60)
        c.heal()
    for t in movers + readers + [nemesis]:
        assert not t.is_alive(), "%s did not finish" % t.name
        assert t.error is None, "%s failed: %r" % (t.name, t.error)
    st = bank.stats
    # At the end every replica holds every acknowledged transfer, the same
    # journal head, and balances that keep the invariant.
    c.converged(range(REPLICAS), timeout=30)
    everyone = {"ids": [str(i) for i in [source] + ids]}
    for k in range(REPLICAS):
        r = c.session.post(c.urls[k] + "/v1/accounts/lookup?consistency=stale", json=everyone,
                           timeout=30)
        assert r.status_code == 200, r.text
        bank.check_snapshot(r.json()["accounts"], "final read on replica %d" % k)
        for i in range(0, len(st.acked_ids), 4000):
            chunk = [str(x) for x in st.acked_ids[i:i + 4000]]
            r = c.session.post(c.urls[k] + "/v1/transfers/lookup?consistency=stale",
                               json={"ids": chunk}, timeout=30)
            assert r.status_code == 200, r.text
            if len(r.json()["transfers"]) != len(chunk):
                st.violation("lost_acknowledged", "replica %d misses %d acknowledged transfers"
                             % (k, len(chunk) - len(r.json()["transfers"])))
        if c.audit(k)["invariant_ok"] is not True:
            st.violation("audit_invariant", "final audit of replica %d" % k)
    violations = sum(st.violations.values())
    print("cluster bank: %d leader kills, %d partitions, %d reads checked (+%d audits, %d stale), "
          "%d violations, %d transfers acknowledged, %d refused by a limit, %d requests in doubt, "
          "%.1f s" % (nemesis.kills, nemesis.partitions, st.reads_checked,
                      st.audit_reads_checked, st.stale_reads, violations,
                      st.transfers_acknowledged, st.transfers_exceeds_credits,
                      st.requests_in_doubt, time.monotonic() - t0))
    for note in st.violation_notes:
        print("cluster bank: VIOLATION " + note)
    assert nemesis.kills + nemesis.partitions == BANK_EVENTS
    assert st.reads_checked > 50 and st.transfers_acknowledged > 100
    assert violations == 0, st.violation_notes


# ------------------------------------------------------------- disk faults

def journal_path(c, k):
    return os.path.join(c.home(k), "ledger", "journal")


def test_follower_with_a_corrupted_journal_refuses_to_start(pcluster):
    c = pcluster
    lead = c.leader(timeout=15)
    assert acknowledged(c.post("/v1/accounts", accounts_body()))
    rng = random.Random(31)
    for b in range(30):  # 30+ journal records
        assert acknowledged(c.post("/v1/transfers", [transfer(50_000 + 10 * b + i, rng)
                                                     for i in range(10)]))
    c.converged(range(REPLICAS))
    bad = (lead + 1) % REPLICAS
    c.kill(bad, signal.SIGTERM)
    path = journal_path(c, bad)
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.seek(size // 2)
        byte = f.read(1)
        f.seek(size // 2)
        f.write(bytes([byte[0] ^ 0x5A]))
    # It refuses to start, naming the damaged record, every time it is tried.
    for attempt in range(2):
        c.start(bad)
        assert c.procs[bad].wait(timeout=60) != 0
        c.procs[bad] = None
        m = re.findall(r"journal record (\d+) at offset (\d+)[^\n]*", c.read_log(bad))
        assert m, c.read_log(bad)[-2000:]
        assert int(m[-1][0]) >= 1 and int(m[-1][1]) <= size // 2 < size, m[-1]
    named = m[-1][0]
    out = subprocess.run([cf.QUIPU, "verify", "--data", c.home(bad)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode != 0 and "record %s" % named in out.stdout + out.stderr, out.stdout
    # The other two are a majority: they keep acknowledging writes.
    live = [k for k in range(REPLICAS) if k != bad]
    before = c.converged(live)
    more = [transfer(60_000 + i, rng) for i in range(10)]
    assert acknowledged(c.post("/v1/transfers", more))
    after = c.converged(live)
    assert int(after["journal_seq"]) > int(before["journal_seq"])
    # The operator's repair: move the damaged ledger directory away.  Raft's
    # log under DATA/raft is intact (and whole: no snapshots are taken), so
    # the replica rebuilds its journal from it and agrees with the others.
    os.rename(os.path.join(c.home(bad), "ledger"), os.path.join(c.home(bad), "ledger.damaged"))
    c.start(bad)
    audit = c.converged(range(REPLICAS), timeout=30)
    assert audit["journal_seq"] == after["journal_seq"]
    assert audit["head_hash"] == after["head_hash"]


def test_a_bad_raft_bind_stops_the_node_naming_the_key(tmp_path):
    c = Cluster(str(tmp_path))
    path = os.path.join(c.home(0), "node.json")
    with open(path) as f:
        good = json.load(f)
    for value, words in ((5, "replicas[0].raft_bind must be a non-empty string"),
                         ("", "replicas[0].raft_bind must be a non-empty string"),
                         ("nowhere", "raft_uv_tcp_set_bind_address")):
        cfg = json.loads(json.dumps(good))
        cfg["modules"]["ledger"]["cluster"]["replicas"][0]["raft_bind"] = value
        with open(path, "w") as f:
            json.dump(cfg, f)
        out = subprocess.run([cf.QUIPU, "node", "--home", c.home(0)], capture_output=True,
                             text=True, timeout=60)
        assert out.returncode != 0 and words in out.stdout + out.stderr, (value, out.stderr)
