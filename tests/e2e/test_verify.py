"""`quipu verify` beside a running server under load: without --live it
refuses (exit 3, naming the holder's pid) and never reports damage that is
not there; with --live it checks the journal as it stands and passes every
time.  Before the lock check, verify compared the index while the server's
applier was writing it and printed `index: DIFFERS` on an intact ledger."""
import os
import re
import stat
import threading

from conftest import Api, Server, accounts, create_key, new_id, quipu, transfer

RUNS = 15


def load(server, key, stop, errors):
    api = Api(server, key)
    try:
        while not stop.is_set():
            ids = [new_id() for _ in range(20)]
            assert api.create_accounts(accounts(*ids)) == ["ok"] * 20
            body = [transfer(new_id(), ids[i], ids[i + 1], 5) for i in range(19)]
            assert api.create_transfers(body) == ["ok"] * 19
    except Exception as e:  # noqa: BLE001 - reported by the test
        errors.append(e)


def test_verify_beside_a_loaded_server(tmp_dir):
    data = os.path.join(tmp_dir, "data")
    key = create_key(data, "admin", "admin")
    server = Server(data).start()
    stop, errors = threading.Event(), []
    writer = threading.Thread(target=load, args=(server, key, stop, errors))
    writer.start()
    try:
        for _ in range(RUNS):
            r = quipu("verify", "--data", data, check=False)
            out = r.stdout + r.stderr
            assert r.returncode == 3, out
            assert "DIFFERS" not in out and "FAILED" not in out and "corrupt" not in out, out
            assert re.search(r"a quipu process \(pid %d\) holds " % server.proc.pid, out), out
            assert "stop it first, or run `quipu verify --live`" in out, out
            r = quipu("verify", "--live", "--data", data, check=False)
            out = r.stdout + r.stderr
            assert r.returncode == 0, out
            assert "mode:      live" in out and "index:     not compared (live)" in out, out
            assert "result:    OK" in r.stdout and "DIFFERS" not in out, out
    finally:
        stop.set()
        writer.join()
        assert server.stop() == 0
    assert not errors, errors
    r = quipu("verify", "--data", data, check=False)
    assert r.returncode == 0 and "mode:      offline" in r.stdout, r.stdout + r.stderr
    assert "index:     matches the journal" in r.stdout


def test_offline_verify_takes_the_servers_lock(tmp_dir):
    """The lock verify holds is the server's (a server starting meanwhile is
    refused): while it runs the lock file names verify's pid."""
    data = os.path.join(tmp_dir, "data")
    quipu("ledger", "demo", "--data", data)
    lock = os.path.join(data, "quipu.lock")
    with open(lock) as f:
        before = f.read()
    assert quipu("verify", "--data", data).returncode == 0
    assert os.path.exists(lock) and open(lock).read() != before


def test_fresh_data_directories_are_private(tmp_dir):
    data = os.path.join(tmp_dir, "data")
    create_key(data, "admin", "admin")
    server = Server(data).start()
    try:
        for d in (data, os.path.join(data, "keys"), os.path.join(data, "ledger"),
                  os.path.join(data, "ledger", "state")):
            mode = stat.S_IMODE(os.stat(d).st_mode)
            assert mode == 0o700, "%s is %o" % (d, mode)
    finally:
        assert server.stop() == 0
