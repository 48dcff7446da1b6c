"""End-to-end: Raft snapshots of the replicated ledger (docs/cluster.md,
"Snapshots"), three real `quipu node` replicas on loopback.

What is checked: with a small snapshot_threshold every replica takes
snapshots and libraft deletes the log segments behind them, and a restart
from a snapshot agrees with the others; a follower that was down while the
leader's log was truncated past its position installs a snapshot, fetches
the journal records it lacks from another replica (GET /v1/cluster/journal)
and re-executes them to the same head hash, then serves stale reads of the
new data; a replica whose data directory was wiped rebuilds the same way;
the journal route refuses bad queries, other keys and diverged heads.
"""
import glob
import json
import os
import random
import re
import signal
import shutil
import subprocess
import tempfile
import time

import pytest
import requests

import test_cluster
from test_cluster import free_base_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUIPU = os.environ.get("QUIPU_BIN", os.path.join(ROOT, "build", "quipu"))
REPLICAS = 3
LEDGER = 1
ACCOUNTS = 64
BATCH = 4000          # transfers per request: ~0.5 MiB per Raft entry
THRESHOLD = 8         # snapshot every 8 entries ...
TRAILING = 2          # ... keeping 2 behind it

pytestmark = pytest.mark.skipif(os.environ.get("QUIPU_E2E_RUNNER", "serve") != "node",
                                reason="cluster replicas are nodes; runs with QUIPU_E2E_RUNNER=node")


class Cluster(test_cluster.Cluster):
    """test_cluster's cluster with small snapshots (so a test makes many), the
    longer waits a catch-up needs, and a transfer generator."""

    def __init__(self, tmp):
        super().__init__(tmp)
        for k in range(REPLICAS):
            path = os.path.join(self.home(k), "node.json")
            cfg = json.load(open(path))
            cl = cfg["modules"]["ledger"]["cluster"]
            cl["snapshot_threshold"] = THRESHOLD
            cl["snapshot_trailing"] = TRAILING
            json.dump(cfg, open(path, "w"))
        self.next_id = 1000
        self.rng = random.Random(19)

    def log(self, k):
        return open(os.path.join(self.home(k), "node.log"), errors="replace").read()

    def get(self, k, path, **kw):
        return self.session.get(self.urls[k] + path, allow_redirects=False, timeout=30, **kw)

    def leader(self, timeout=15.0, exclude=()):
        return super().leader(timeout, exclude)

    def post(self, path, body, timeout=60.0):
        return super().post(path, body, timeout)

    def accounts(self):
        res = self.post("/v1/accounts", [{"id": i, "ledger": LEDGER, "code": 1, "flags": []}
                                          for i in range(1, ACCOUNTS + 1)])
        assert all(r["result"] in ("ok", "exists") for r in res["results"]), res

    def entries(self, n, size=BATCH):
        """n write requests (each one Raft entry) of `size` transfers; the last id."""
        for _ in range(n):
            body = []
            for _ in range(size):
                a, b = self.rng.sample(range(1, ACCOUNTS + 1), 2)
                self.next_id += 1
                body.append({"id": self.next_id, "debit_account_id": a, "credit_account_id": b,
                             "amount": str(self.rng.randrange(1, 1000)), "ledger": LEDGER,
                             "code": 1})
            res = self.post("/v1/transfers", body)
            assert all(r["result"] == "ok" for r in res["results"]), res["results"][:3]
        return self.next_id

    def converged(self, live, timeout=60.0):
        """As test_cluster's, but a replica still catching up may answer its
        audit with an error meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                audits = [self.audit(k) for k in live]
            except (requests.RequestException, AssertionError):
                audits = [{"journal_seq": None, "head_hash": k} for k in live]
            heads = {(a["journal_seq"], a["head_hash"]) for a in audits}
            if len(heads) == 1:
                return audits[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"replicas disagree: {heads}")
            time.sleep(0.1)


@pytest.fixture
def cluster():
    with tempfile.TemporaryDirectory(prefix="quipu-snap-") as tmp:
        c = Cluster(tmp)
        try:
            for k in range(REPLICAS):
                c.start(k)
            c.leader()
            c.accounts()
            yield c
        finally:
            c.stop_all()


def raft_files(c, k):
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(c.home(k), "raft", "*")))


def first_segment_start(files):
    """The first index of the oldest closed segment ("FIRST-LAST"), or None."""
    starts = [int(f.split("-")[0]) for f in files if re.fullmatch(r"\d{16}-\d{16}", f)]
    return min(starts) if starts else None


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.1)


def test_snapshots_truncate_the_log_and_a_restart_agrees(cluster):
    c = cluster
    c.entries(40)
    for k in range(REPLICAS):
        # libraft takes the snapshot asynchronously after the threshold: poll
        wait_for(lambda: any(f.startswith("snapshot-") for f in raft_files(c, k)), 20,
                 f"a snapshot on replica {k}")
        wait_for(lambda: (first_segment_start(raft_files(c, k)) or 1) > 1, 20,
                 f"replica {k}'s log truncated: {raft_files(c, k)}")
        assert "Raft snapshot at entry" in c.log(k)
    before = c.converged(range(REPLICAS))
    follower = (c.leader() + 1) % REPLICAS
    c.kill(follower, signal.SIGTERM)
    mark = len(c.log(follower))
    t0 = time.monotonic()
    c.start(follower)
    wait_for(lambda: c.status(follower) is not None, 30, "the replica answers")
    after = c.converged(range(REPLICAS))
    elapsed = time.monotonic() - t0
    assert (after["journal_seq"], after["head_hash"]) == (before["journal_seq"],
                                                           before["head_hash"])
    assert elapsed < 15, elapsed
    # it restored its own snapshot and did not fetch anything
    assert "catching up" not in c.log(follower)[mark:]


def test_a_follower_far_behind_installs_a_snapshot_and_fetches_the_journal(cluster):
    c = cluster
    c.entries(2)
    lead = c.leader()
    f = (lead + 1) % REPLICAS
    c.converged(range(REPLICAS))
    c.kill(f)
    # pending transfers that time out while f is down: the leader's expiry
    # sweeps are journal records f must re-execute at their own time
    pend = []
    for _ in range(3):
        c.next_id += 1
        pend.append(c.next_id)
        res = c.post("/v1/transfers", [{"id": c.next_id, "debit_account_id": 1,
                                        "credit_account_id": 2, "amount": "5", "ledger": LEDGER,
                                        "code": 1, "timeout": 1, "flags": ["pending"]}])
        assert res["results"][0]["result"] == "ok", res
    c.entries(4)
    wait_for(lambda: all(c.get(c.leader(), f"/v1/transfers/{t}").json().get("pending_state")
                         == "expired" for t in pend), 20, "the pending transfers expired")
    last = c.entries(26)  # several snapshots: the leader's log no longer has f's next entry
    wait_for(lambda: (first_segment_start(raft_files(c, lead)) or 1) > 4, 20,
             f"the leader's log truncated: {raft_files(c, lead)}")
    mark = len(c.log(f))
    c.start(f)
    audit = c.converged(range(REPLICAS))
    assert "catching up from journal record" in c.log(f)[mark:]
    assert audit["invariant_ok"] is True
    # the follower serves the new data from its own state
    r = c.get(f, f"/v1/transfers/{last}", params={"consistency": "stale"})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == str(last)
    assert int(r.headers["X-Quipu-Applied-Index"]) > 0
    for t in pend:
        r = c.get(f, f"/v1/transfers/{t}", params={"consistency": "stale"})
        assert r.json()["pending_state"] == "expired", r.text
    # and keeps applying new entries from the log
    c.entries(1, size=10)
    c.converged(range(REPLICAS))


def test_a_replica_with_a_wiped_data_dir_rebuilds_from_a_snapshot(cluster):
    c = cluster
    c.entries(20)
    lead = c.leader()
    f = (lead + 2) % REPLICAS
    c.converged(range(REPLICAS))
    c.kill(f)
    for sub in ("ledger", "raft"):
        shutil.rmtree(os.path.join(c.home(f), sub))
    mark = len(c.log(f))
    c.start(f)
    audit = c.converged(range(REPLICAS))
    assert "catching up from journal record 0 " in c.log(f)[mark:]
    assert audit["invariant_ok"] is True


def test_a_rebuilt_replica_learns_an_added_replicas_url_from_the_snapshot(cluster):
    """A replica added by a QPM1 entry that snapshots have since truncated
    from every log: a replica rebuilt from a snapshot still knows its URL
    (the snapshot carries the members), though its node.json never had it."""
    c = cluster
    lead = c.leader()
    extra = {"id": 7, "raft": "127.0.0.1:1", "http": "http://198.51.100.7:7400"}
    r = c.session.post(c.urls[lead] + "/v1/cluster/replicas", json=extra, timeout=30)
    assert r.status_code in (200, 202), r.text  # a spare that never starts: no quorum change
    c.entries(20)  # snapshots: the QPM1 entry leaves every log
    f = (lead + 1) % REPLICAS
    wait_for(lambda: (first_segment_start(raft_files(c, lead)) or 1) > 4, 20,
             f"the leader's log truncated: {raft_files(c, lead)}")
    c.converged(range(REPLICAS))
    c.kill(f)
    for sub in ("ledger", "raft"):
        shutil.rmtree(os.path.join(c.home(f), sub))
    cfg = json.load(open(os.path.join(c.home(f), "node.json")))
    assert all(x["id"] != 7 for x in cfg["modules"]["ledger"]["cluster"]["replicas"])
    c.start(f)
    c.converged(range(REPLICAS))

    def knows():
        st = c.status(f)
        return st is not None and any(x["id"] == 7 and x.get("http") == extra["http"]
                                      for x in st["replicas"])
    wait_for(knows, 30, f"replica {f} knows replica 7's URL: {c.status(f)}")
    members = json.load(open(os.path.join(c.home(f), "raft", "members.json")))
    assert {"id": 7, "raft": extra["raft"], "http": extra["http"]} in members


def test_the_journal_route_checks_its_caller_and_the_position(cluster):
    c = cluster
    c.entries(1, size=10)
    a = c.converged(range(REPLICAS))
    k = c.leader()
    zeros = "0" * 64
    r = c.get(k, "/v1/cluster/journal", params={"after_seq": 0, "after_bytes": 0,
                                                "after_hash": zeros})
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/octet-stream"
    assert int(r.headers["X-Quipu-Journal-Seq"]) == int(a["journal_seq"])
    assert len(r.content) == int(r.headers["X-Quipu-Journal-Bytes"]) == int(a["journal_bytes"])
    # at the end: nothing follows
    r = c.get(k, "/v1/cluster/journal", params={"after_seq": a["journal_seq"],
                                                "after_bytes": a["journal_bytes"],
                                                "after_hash": a["head_hash"]})
    assert r.status_code == 200 and r.content == b""
    # a head this journal does not have
    r = c.get(k, "/v1/cluster/journal", params={"after_seq": a["journal_seq"],
                                                "after_bytes": a["journal_bytes"],
                                                "after_hash": "1" * 64})
    assert r.status_code == 409 and r.json()["error"]["code"] == "journal_diverged"
    r = c.get(k, "/v1/cluster/journal", params={"after_seq": 1, "after_bytes": 128,
                                                "after_hash": zeros})
    assert r.status_code == 409, r.text
    r = c.get(k, "/v1/cluster/journal", params={"after_seq": 10**9, "after_bytes": 10**12,
                                                "after_hash": zeros})
    assert r.status_code == 404 and r.json()["error"]["code"] == "position_unknown"
    for bad, field in (({"after_seq": "x", "after_bytes": 0, "after_hash": zeros}, "after_seq"),
                       ({"after_seq": 0, "after_bytes": 0}, "after_hash"),
                       ({"after_seq": 0, "after_bytes": 0, "after_hash": "zz"}, "after_hash"),
                       ({"after_seq": 1, "after_bytes": 0, "after_hash": zeros}, "after_bytes"),
                       ({"after_seq": 0, "after_bytes": 0, "after_hash": zeros, "x": 1}, "x")):
        r = c.get(k, "/v1/cluster/journal", params=bad)
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["error"]["path"] == field, (bad, r.text)
    # the journal is for keys with scope admin; none at all is refused
    r = requests.get(c.urls[k] + "/v1/cluster/journal", timeout=10)
    assert r.status_code == 401


def test_bad_snapshot_settings_stop_the_node_with_the_key_named(tmp_path):
    out = subprocess.run([QUIPU, "cluster", "init", "--replicas", "1", "--dir",
                          str(tmp_path / "c"), "--base-port", str(free_base_port())],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    home = tmp_path / "c" / "node0"
    assert (home / "keys" / "cluster_key").read_text().startswith("qpk_")
    assert oct((home / "keys" / "cluster_key").stat().st_mode & 0o777) == "0o600"
    path = home / "node.json"
    good = json.loads(path.read_text())
    for key, value in (("snapshot_threshold", 1), ("snapshot_trailing", -1),
                       ("snapshot_threshold", "64")):
        cfg = json.loads(json.dumps(good))
        cfg["modules"]["ledger"]["cluster"][key] = value
        path.write_text(json.dumps(cfg))
        run = subprocess.run([QUIPU, "node", "--home", str(home)], capture_output=True,
                             text=True, timeout=60)
        assert run.returncode != 0
        assert f"modules.ledger.cluster.{key}" in run.stdout + run.stderr, run.stderr
