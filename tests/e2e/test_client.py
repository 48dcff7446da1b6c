"""`quipu client` against the running server: every command, JSON on
stdout, and the exit codes (0 all ok, 1 any failed event / refused request /
unreachable server, 2 usage)."""
import json
import os
import subprocess

from conftest import QUIPU, new_id


def client(server, key, *args, stdin=None, env_only=False):
    env = dict(os.environ)
    if env_only:
        env.update(QUIPU_URL=server.url(""), QUIPU_KEY=key)
        argv = [QUIPU, "client", *args]
    else:
        env.pop("QUIPU_URL", None)
        env.pop("QUIPU_KEY", None)
        argv = [QUIPU, "client", "--url", server.url(""), "--key", key, *args]
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60, env=env)


def test_client_commands(server, keys, tmp_dir):
    key = keys["rw"]
    a, b, t = new_id(), new_id(), new_id()
    path = os.path.join(tmp_dir, "accounts.json")
    with open(path, "w") as f:
        json.dump([{"id": str(a), "ledger": 1, "code": 1, "flags": ["history"]}, {"id": str(b), "ledger": 1, "code": 1}], f)
    r = client(server, key, "accounts", "create", path)
    assert r.returncode == 0, r.stderr
    assert [x["result"] for x in json.loads(r.stdout)["results"]] == ["ok", "ok"]
    body = json.dumps([{"id": str(t), "debit_account_id": str(a), "credit_account_id": str(b), "amount": "42", "ledger": 1, "code": 1}])
    r = client(server, key, "transfers", "create", stdin=body)
    assert r.returncode == 0, r.stderr
    r = client(server, key, "transfers", "create", "-", stdin=body)  # again: exists
    assert r.returncode == 1
    assert json.loads(r.stdout)["results"][0]["result"] == "exists"
    assert "not ok" in r.stderr
    r = client(server, key, "account", str(b), env_only=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["credits_posted"] == "42"
    r = client(server, key, "transfer", str(t))
    assert r.returncode == 0 and json.loads(r.stdout)["amount"] == "42"
    r = client(server, key, "history", str(a), "--limit", "10", "--reversed")
    assert r.returncode == 0, r.stderr
    assert [x["id"] for x in json.loads(r.stdout)["transfers"]] == [str(t)]
    r = client(server, key, "balances", str(a))
    assert r.returncode == 0 and len(json.loads(r.stdout)["balances"]) == 1
    r = client(server, key, "audit")
    assert r.returncode == 0 and json.loads(r.stdout)["invariant_ok"] is True


def test_client_failures(server, keys):
    key = keys["rw"]
    r = client(server, key, "account", str(new_id()))
    assert r.returncode == 1
    assert json.loads(r.stderr.split("\nquipu client:")[0])["error"]["code"] == "not_found"
    r = client(server, key, "transfers", "create", stdin="[{]")
    assert r.returncode == 1 and "invalid_json" in r.stderr
    r = client(server, keys["ro"], "accounts", "create", stdin='[{"id":"%d","ledger":1,"code":1}]' % new_id())
    assert r.returncode == 1 and "forbidden" in r.stderr
    # Bad input is refused locally by the server's own decoder: nothing is sent.
    r = client(server, key, "accounts", "create", stdin="[]")
    assert r.returncode == 1 and "empty_batch" in r.stderr and "nothing was sent" in r.stderr
    r = client(server, key, "transfers", "create", stdin='[{"id":"1","amount":"-5"}]')
    assert r.returncode == 1 and "[0].amount" in r.stderr
    r = client(server, "qpk_wrong", "audit")
    assert r.returncode == 1 and "unauthorized" in r.stderr
    r = subprocess.run([QUIPU, "client", "--url", "http://127.0.0.1:1", "audit"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    r = client(server, key, "account", "12; rm -rf /")
    assert r.returncode == 2
    r = client(server, key, "frobnicate")
    assert r.returncode == 2
    r = client(server, key, "transfers", "create", "/nonexistent/file.json")
    assert r.returncode == 1


def test_client_load_generator(server, keys):
    r = subprocess.run([QUIPU, "client", "--url", server.url(""), "--key", keys["rw"], "load",
                        "--batch", "100", "--connections", "2", "--duration", "1", "--accounts", "10"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "failed 0" in r.stdout
    assert "p99" in r.stdout


def test_client_load_open_loop(server, keys):
    r = subprocess.run([QUIPU, "client", "--url", server.url(""), "--key", keys["rw"], "load",
                        "--batch", "10", "--connections", "2", "--duration", "1", "--accounts", "10",
                        "--rate", "50"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "offered 50 requests/s" in r.stdout
    assert "requests:  50 (" in r.stdout and "transfers: 500 ok" in r.stdout
