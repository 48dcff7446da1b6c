"""A full disk: writes get 503 disk_full and nothing is applied (journal space
is reserved before a group is applied, so a full disk is an ordinary error,
not fail-stop); reads keep working; once the disk has room again the same
server accepts writes, and a restart finds every acknowledged transfer.
Needs root to mount a small tmpfs; skipped otherwise."""
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
        assert set(codes) == {"disk_full"}, codes
        # Nothing of a refused request was applied; reads still work.
        assert int(api.account(b)["credits_posted"]) == len(acked)
        assert requests.get(server.url("/healthz")).status_code == 200
        # Space returns: the running server continues.
        subprocess.run(["mount", "-o", "remount,size=64m", small_disk], check=True)
        more = [new_id() for _ in range(50)]
        assert api.create_transfers([transfer(i, a, b, 1) for i in more]) == ["ok"] * 50
        acked += more
        assert int(api.account(b)["credits_posted"]) == len(acked)
        assert server.stop() == 0
        server.start()
        assert int(api.account(b)["credits_posted"]) == len(acked)
        found = api.post("/v1/transfers/lookup", {"ids": [str(i) for i in acked[-8190:]]}).json()["transfers"]
        assert len(found) == min(len(acked), 8190)
        assert api.create_transfers([transfer(new_id(), a, b, 1)]) == ["ok"]
        assert api.audit()["invariant_ok"] is True
    finally:
        if server.proc and server.proc.poll() is None:
            server.stop()
