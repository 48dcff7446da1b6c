"""`quipu backup` and `quipu restore` against the real binary.

A backup taken while a writer moves money restores into a directory that
`quipu verify` passes, that serves with the keys it had, that holds every
transfer acknowledged before the backup started, whose balances are exactly
those of the transfers it holds, and whose history is a prefix of the
original's.  Also: a backup of a stopped server, a restore refused by a
non-empty directory, damaged archives refused before anything is written,
and usage errors.  Works under both runners: the node runner writes its
node.json into the data directory, which the backup then carries.
"""
import json
import os
import stat
import threading
import time

from conftest import Api, Server, accounts, create_key, new_id, quipu, transfer

ACCOUNTS = 8
BATCH = 25


class Load:
    """One writer moving 1..9 units around a ring of accounts; records every
    acknowledged transfer in the order the server acknowledged it."""

    def __init__(self, api, ids):
        self.api, self.ids = api, ids
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked = []  # (id, debit, credit, amount), in acknowledgement order
        self.errors = []
        self.thread = threading.Thread(target=self.run)

    def run(self):
        n, k = len(self.ids), 0
        try:
            while not self.stop.is_set():
                batch = []
                for _ in range(BATCH):
                    d, c = self.ids[k % n], self.ids[(k + 1 + k // n) % n]
                    if d == c:
                        c = self.ids[(k + 1) % n]
                    batch.append((new_id(), d, c, 1 + k % 9))
                    k += 1
                results = self.api.create_transfers([transfer(*t) for t in batch])
                assert results == ["ok"] * len(batch), results
                with self.lock:
                    self.acked.extend(batch)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.errors.append(e)

    def snapshot(self):
        with self.lock:
            return list(self.acked)

    def wait_for(self, count, timeout=30):
        deadline = time.time() + timeout
        while len(self.snapshot()) < count:
            assert not self.errors, self.errors
            assert time.time() < deadline, "the load did not get going"
            time.sleep(0.02)


def lookup_transfers(api, ids):
    found = {}
    for i in range(0, len(ids), 8000):
        r = api.post("/v1/transfers/lookup", {"ids": [str(x) for x in ids[i:i + 8000]]})
        assert r.status_code == 200, r.text
        for t in r.json()["transfers"]:
            found[int(t["id"])] = t
    return found


def balances(api, ids):
    r = api.post("/v1/accounts/lookup", {"ids": [str(i) for i in ids]})
    assert r.status_code == 200, r.text
    return {int(a["id"]): (int(a["debits_posted"]), int(a["credits_posted"]))
            for a in r.json()["accounts"]}


def backup(data, out, *extra, check=True):
    r = quipu("backup", "--data", data, "--out", out, *extra, check=False)
    if check:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


def restore(archive, data, *extra):
    return quipu("restore", "--in", archive, "--data", data, *extra, check=False)


def start_ledger(tmp_dir):
    data = os.path.join(tmp_dir, "data")
    key = create_key(data, "admin", "admin")
    server = Server(data).start()
    api = Api(server, key)
    ids = [new_id() for _ in range(ACCOUNTS)]
    assert api.create_accounts(accounts(*ids)) == ["ok"] * ACCOUNTS
    return data, key, server, api, ids


def test_backup_under_load_restores_a_verified_prefix(tmp_dir):
    data, key, server, api, ids = start_ledger(tmp_dir)
    load = Load(api, ids)
    load.thread.start()
    out = os.path.join(tmp_dir, "backup.qpb")
    try:
        load.wait_for(40 * BATCH)
        before = load.snapshot()  # acknowledged before the backup started
        r = backup(data, out, "--json")
        load.wait_for(len(load.snapshot()) + 10 * BATCH)  # the load went on meanwhile
    finally:
        load.stop.set()
        load.thread.join()
    assert not load.errors, load.errors
    summary = json.loads(r.stdout)
    assert summary["seq"] > 0 and summary["files"] >= 2, summary
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    original = api.audit()
    assert server.stop() == 0

    restored = os.path.join(tmp_dir, "restored")
    r = restore(out, restored, "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    info = json.loads(r.stdout)
    assert info["seq"] == summary["seq"] and info["head_hash"] == summary["head_hash"], info
    v = quipu("verify", "--data", restored, check=False)
    assert v.returncode == 0 and "result:    OK" in v.stdout, v.stdout + v.stderr
    assert "index:     matches the journal" in v.stdout
    for d in (restored, os.path.join(restored, "keys"), os.path.join(restored, "ledger")):
        assert stat.S_IMODE(os.stat(d).st_mode) == 0o700, d

    again = Server(restored).start()  # the restored key store lets the old key in
    try:
        rapi = Api(again, key)
        audit = rapi.audit()
        assert int(audit["journal_seq"]) == summary["seq"], audit
        assert audit["head_hash"] == summary["head_hash"] and audit["invariant_ok"] is True
        assert int(audit["transfers"]) <= int(original["transfers"])
        everything = load.snapshot()
        found = lookup_transfers(rapi, [t[0] for t in everything])
        missing = [t[0] for t in before if t[0] not in found]
        assert not missing, "%d transfers acknowledged before the backup are missing" % len(missing)
        present = [t[0] in found for t in everything]
        # One writer, one batch at a time: the restored history is a prefix.
        assert present == sorted(present, reverse=True), "the restored ledger is not a prefix"
        assert int(audit["transfers"]) == len(found)
        want = {i: [0, 0] for i in ids}
        for tid, d, c, amount in everything[:len(found)]:
            assert int(found[tid]["amount"]) == amount
            want[d][0] += amount
            want[c][1] += amount
        assert balances(rapi, ids) == {i: tuple(v) for i, v in want.items()}
    finally:
        assert again.stop() == 0


def test_backup_of_a_stopped_server_and_refusals(tmp_dir):
    data, key, server, api, ids = start_ledger(tmp_dir)
    assert api.create_transfers([transfer(new_id(), ids[0], ids[1], 7)]) == ["ok"]
    assert server.stop() == 0
    out = os.path.join(tmp_dir, "stopped.qpb")
    r = backup(data, out)
    assert r.stdout.startswith("backup: %s:" % out) and "journal up to record" in r.stdout
    assert "0 bytes being written left out" in r.stdout, r.stdout

    r = backup(data, out, check=False)  # exists: refused unless --force
    assert r.returncode == 1 and "refusing to overwrite" in r.stderr and "--force" in r.stderr
    backup(data, out, "--force")

    full = os.path.join(tmp_dir, "full")
    os.makedirs(full)
    open(os.path.join(full, "something"), "w").close()
    r = restore(out, full)
    assert r.returncode == 1 and "is not empty" in r.stderr, r.stderr
    assert os.listdir(full) == ["something"]

    empty = os.path.join(tmp_dir, "empty")
    os.makedirs(empty)
    r = restore(out, empty)
    assert r.returncode == 0, r.stderr
    assert quipu("verify", "--data", empty, check=False).returncode == 0
    again = Server(empty).start()
    try:
        got = balances(Api(again, key), ids[:2])
        assert got[ids[0]] == (7, 0) and got[ids[1]] == (0, 7), got
    finally:
        assert again.stop() == 0


def test_damaged_backups_are_refused_and_write_nothing(tmp_dir):
    data, _key, server, api, ids = start_ledger(tmp_dir)
    assert api.create_transfers([transfer(new_id(), ids[0], ids[1], 3)]) == ["ok"]
    out = os.path.join(tmp_dir, "b.qpb")
    backup(data, out)  # beside the running server
    assert server.stop() == 0
    with open(out, "rb") as f:
        good = f.read()
    journal_at = good.index(b"ledger/journal") + len(b"ledger/journal") + 200
    cases = {
        "flipped": (good[:journal_at] + bytes([good[journal_at] ^ 1]) + good[journal_at + 1:],
                    "entry ledger/journal: its contents do not match its hash"),
        "truncated": (good[:len(good) // 2], "truncated"),
        "trailer": (good[:-1] + bytes([good[-1] ^ 0xff]), "the archive's hash does not match"),
        "foreign": (b"PK\x03\x04" + good[4:], "not a quipu backup"),
    }
    for name, (content, says) in cases.items():
        bad = os.path.join(tmp_dir, name + ".qpb")
        with open(bad, "wb") as f:
            f.write(content)
        target = os.path.join(tmp_dir, "into-" + name)
        r = restore(bad, target)
        assert r.returncode == 1, (name, r.stdout, r.stderr)
        assert says in r.stderr and "nothing was written" in r.stderr, (name, r.stderr)
        assert not os.path.exists(target), name
    r = restore(os.path.join(tmp_dir, "absent.qpb"), os.path.join(tmp_dir, "x"))
    assert r.returncode == 1 and "cannot open" in r.stderr


def test_usage_errors(tmp_dir):
    for args in (["backup"], ["backup", "--data", tmp_dir], ["restore"],
                 ["restore", "--data", tmp_dir], ["backup", "--out", "x", "extra"],
                 ["restore", "--bogus"]):
        r = quipu(*args, check=False)
        assert r.returncode == 2, (args, r.stderr)
        assert "usage: quipu" in r.stderr, (args, r.stderr)
    r = quipu("backup", "--data", os.path.join(tmp_dir, "none"), "--out",
              os.path.join(tmp_dir, "o"), check=False)
    assert r.returncode == 1 and "quipu data directory" in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(tmp_dir, "o"))
    assert quipu("backup", "--help").returncode == 0
    assert quipu("restore", "--help").returncode == 0
