"""A full disk: writes get 503 disk_full (then stopped: the ledger is
fail-stop after a failed journal write, and refuses reads too), and after the
disk has room again a restart finds every acknowledged transfer.  Needs root
to mount a small tmpfs; skipped otherwise."""
import os
import subprocess

import pytest
import requests

from conftest import Api, Server, accounts, create_key, new_id, transfer


@pytest.fixture
def small_disk(tmp_dir):
    mnt = os.path.join(tmp_dir, "mnt")
    os.mkdir(mnt)
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", mnt], capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield mnt
    subprocess.run(["umount", "-l", mnt])


def test_disk_full_is_503_and_loses_nothing_acknowledged(small_disk):
    data = os.path.join(small_disk, "data")
    key = create_key(data, "admin", "admin")
    server = Server(data).start()
    try:
        api = Api(server, key)
        a, b = new_id(), new_id()
        assert api.create_accounts(accounts(a, b)) == ["ok", "ok"]
        acked, codes = [], []
        for _ in range(2000):
            ids = [new_id() for _ in range(200)]
            r = api.post("/v1/transfers", [transfer(i, a, b, 1) for i in ids])
            if r.status_code == 200:
                acked += ids
                continue
            assert r.status_code == 503, r.text
            codes.append(r.json()["error"]["code"])
            if len(codes) >= 3:
                break
        assert codes, "the disk never filled up"
        assert codes[0] == "disk_full", codes
        assert set(codes) <= {"disk_full", "stopped"}
        # Fail-stop: the in-memory state may be ahead of the disk, so reads
        # refuse too rather than show what was never acknowledged.
        r = api.get("/v1/accounts/%d" % b)
        assert r.status_code == 503 and r.json()["error"]["code"] == "stopped"
        assert requests.get(server.url("/healthz")).status_code == 503
        assert server.stop() == 0
        subprocess.run(["mount", "-o", "remount,size=64m", small_disk], check=True)
        server.start()
        assert int(api.account(b)["credits_posted"]) == len(acked)
        found = api.post("/v1/transfers/lookup", {"ids": [str(i) for i in acked[-8190:]]}).json()["transfers"]
        assert len(found) == min(len(acked), 8190)
        assert api.create_transfers([transfer(new_id(), a, b, 1)]) == ["ok"]
        assert api.audit()["invariant_ok"] is True
    finally:
        if server.proc and server.proc.poll() is None:
            server.stop()
