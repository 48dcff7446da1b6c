"""API keys and scopes: 401 without a valid key, 403 without the scope; keys
created or revoked with `quipu keys` take effect within a second on a
running server; --insecure-no-auth only on loopback."""
import os
import stat
import subprocess
import time

import requests

from conftest import QUIPU, Api, Server, accounts, create_key, new_id, quipu, transfer


def code(r):
    return r.json()["error"]["code"]


def test_missing_or_bad_key_is_401(server):
    for headers in [{}, {"Authorization": "Bearer"}, {"Authorization": "Basic dXNlcjpwYXNz"},
                    {"Authorization": "Bearer qpk_0000000000000000_" + "0" * 64},
                    {"Authorization": "Bearer nonsense"}]:
        for method, path in [("GET", "/v1/audit"), ("GET", "/v1/accounts/1"), ("POST", "/v1/accounts"),
                             ("GET", "/v1/openapi.json"), ("POST", "/v1/transfers/lookup")]:
            r = requests.request(method, server.url(path), headers=headers, json=[])
            assert r.status_code == 401, (headers, path)
            assert code(r) == "unauthorized"
            assert r.headers["WWW-Authenticate"] == "Bearer"
            assert "X-Request-Id" in r.headers


def test_public_routes_need_no_key(server):
    assert requests.get(server.url("/healthz")).status_code == 200
    assert requests.get(server.url("/metrics")).status_code == 200


def test_scopes(server, keys):
    ro, wo, admin = Api(server, keys["ro"]), Api(server, keys["wo"]), Api(server, keys["admin"])
    a, b = new_id(), new_id()
    r = ro.post("/v1/accounts", accounts(a, b))
    assert r.status_code == 403 and code(r) == "forbidden"
    assert "ledger:write" in r.json()["error"]["message"]
    assert wo.post("/v1/accounts", accounts(a, b)).status_code == 200
    for path in ["/v1/accounts/%d" % a, "/v1/audit", "/v1/accounts/%d/transfers" % a]:
        r = wo.get(path)
        assert r.status_code == 403 and code(r) == "forbidden", path
        assert ro.get(path).status_code == 200
        assert admin.get(path).status_code == 200
    assert wo.post("/v1/accounts/lookup", {"ids": [a]}).status_code == 403
    assert ro.post("/v1/accounts/lookup", {"ids": [a]}).status_code == 200
    assert admin.post("/v1/transfers", [transfer(new_id(), a, b, 3)]).status_code == 200
    assert ro.get("/v1/openapi.json").status_code == 200
    assert wo.get("/v1/openapi.json").status_code == 200


def test_scope_checked_before_body(server, keys):
    """A read-only key gets 403 even for a malformed body: nothing is parsed
    for a caller who may not write."""
    r = Api(server, keys["ro"]).session.post(server.url("/v1/transfers"), data="{{{",
                                             headers={"Content-Type": "application/json"})
    assert r.status_code == 403


def wait_status(api, path, status, within=1.5):
    deadline = time.time() + within
    while True:
        r = api.get(path)
        if r.status_code == status or time.time() > deadline:
            return r.status_code
        time.sleep(0.05)


def test_new_and_revoked_keys_apply_without_restart(server):
    name = "live%d" % new_id()
    t0 = time.time()
    key = create_key(server.data_dir, name, "ledger:read")
    api = Api(server, key)
    assert wait_status(api, "/v1/audit", 200) == 200
    assert time.time() - t0 < 1.5
    out = quipu("keys", "list", "--data", server.data_dir).stdout
    line = [l for l in out.splitlines() if name in l][0]
    assert "active" in line and "ledger:read" in line
    assert key not in out  # only hashes are stored
    t0 = time.time()
    quipu("keys", "revoke", "--data", server.data_dir, name)
    assert wait_status(api, "/v1/audit", 401) == 401
    assert time.time() - t0 < 1.5
    assert "revoked" in [l for l in quipu("keys", "list", "--data", server.data_dir).stdout.splitlines() if name in l][0]


def test_key_file_is_private_and_hashed(server, keys):
    path = os.path.join(server.data_dir, "keys", "api_keys")
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode == 0o600
    text = open(path).read()
    for k in keys.values():
        assert k not in text
        assert k.split("_")[2] not in text


def test_keys_cli_errors(tmp_dir):
    data = os.path.join(tmp_dir, "d")
    create_key(data, "one")
    r = quipu("keys", "create", "--data", data, "--name", "one", "--scope", "ledger:read", check=False)
    assert r.returncode == 1 and "exists" in r.stderr
    r = quipu("keys", "create", "--data", data, "--name", "two", "--scope", "ledger:fly", check=False)
    assert r.returncode == 2
    r = quipu("keys", "revoke", "--data", data, "nobody", check=False)
    assert r.returncode == 1
    r = quipu("keys", "create", "--data", data, "--name", "bad name", "--scope", "admin", check=False)
    assert r.returncode == 1
    r = quipu("keys", "create", "--data", data, "--name", "x", check=False)
    assert r.returncode == 2


def test_insecure_no_auth(tmp_dir):
    data = os.path.join(tmp_dir, "d")
    r = subprocess.run([QUIPU, "serve", "--data", data, "--listen", "0.0.0.0:0", "--insecure-no-auth"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1
    assert "loopback" in r.stderr
    s = Server(data, "--insecure-no-auth").start()
    try:
        assert "insecure-no-auth" in s.read_log() and "WARN" in s.read_log()
        api = Api(s, None)
        a, b = new_id(), new_id()
        assert api.create_accounts(accounts(a, b)) == ["ok", "ok"]
        assert api.get("/v1/audit").status_code == 200
    finally:
        assert s.stop() == 0


def test_key_file_open_to_others_is_refused(tmp_dir):
    """A key file others may read: `quipu keys` and the server refuse it and
    say how to fix it; after the chmod both work."""
    data = os.path.join(tmp_dir, "d")
    create_key(data, "one")
    path = os.path.join(data, "keys", "api_keys")
    os.chmod(path, 0o644)
    r = quipu("keys", "list", "--data", data, check=False)
    assert r.returncode == 1 and "chmod 600 %s" % path in r.stderr, r.stderr
    server = Server(data)
    try:
        server.start()
        assert False, "the server started with a key file others can read"
    except RuntimeError as e:
        assert "chmod 600" in str(e)
    os.chmod(path, 0o600)
    assert quipu("keys", "list", "--data", data).returncode == 0
    server = Server(data).start()
    assert server.stop() == 0
