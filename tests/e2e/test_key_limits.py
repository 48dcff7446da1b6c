"""A key's limits against the real binary: an expired key gets 401
key_expired; a key restricted to ledgers cannot write outside them (403
ledger_not_allowed, nothing applied) and sees other ledgers' records as
unknown; a rate-limited key gets 429 rate_limited with Retry-After and the
JSON envelope, its bucket survives a reload of the key file, and it works
again after waiting."""
import calendar
import re
import time

import requests

from conftest import Api, accounts, new_id, quipu, transfer

MINE, ALSO_MINE, OTHER = 71, 72, 73  # ledgers of the restricted key, and one it may not use


def make_key(data_dir, name, scopes, *limits):
    out = quipu("keys", "create", "--data", data_dir, "--name", name, "--scope", scopes, *limits)
    key = out.stdout.strip()
    assert key.startswith("qpk_"), out
    return key


def code(r):
    return r.json()["error"]["code"]


def until_known(api, path="/v1/openapi.json", within=2.0):
    """Waits until the server has loaded the key (it re-reads the file within
    a second); returns the first answer that is not 401 unauthorized."""
    deadline = time.time() + within
    while True:
        r = api.get(path)
        if r.status_code != 401 or code(r) != "unauthorized" or time.time() > deadline:
            return r
        time.sleep(0.05)


def test_expired_key_is_401_key_expired(server):
    name = "short%d" % new_id()
    api = Api(server, make_key(server.data_dir, name, "ledger:read", "--expires-in", "3s"))
    r = until_known(api, "/v1/audit")
    line = [l for l in quipu("keys", "list", "--data", server.data_dir).stdout.splitlines()
            if name in l][0]
    created, expires = re.findall(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", line)
    at = calendar.timegm(time.strptime(expires, "%Y-%m-%dT%H:%M:%SZ"))
    if time.time() < at - 0.5:  # unless the box was very slow, it worked before it expired
        assert r.status_code == 200, r.text
        assert "active" in line
    time.sleep(max(0.0, at - time.time()) + 0.2)
    r = api.get("/v1/audit")
    assert r.status_code == 401, r.text
    assert code(r) == "key_expired"
    assert expires in r.json()["error"]["message"]
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert "X-Request-Id" in r.headers
    line = [l for l in quipu("keys", "list", "--data", server.data_dir).stdout.splitlines()
            if name in l][0]
    assert "expired" in line


def restricted(server, keys):
    """An admin api, and a read-write key restricted to ledgers MINE and ALSO_MINE."""
    admin = Api(server, keys["admin"])
    key = make_key(server.data_dir, "led%d" % new_id(), "ledger:read,ledger:write",
                   "--ledgers", "%d,%d" % (MINE, ALSO_MINE))
    api = Api(server, key)
    assert until_known(api).status_code == 200
    return admin, api


def test_restricted_key_cannot_write_outside_its_ledgers(server, keys):
    admin, api = restricted(server, keys)
    a, b, c, d = new_id(), new_id(), new_id(), new_id()
    # One event outside refuses the whole request: a, in an allowed ledger, is not created.
    r = api.post("/v1/accounts", accounts(a, ledger=MINE) + accounts(b, ledger=OTHER))
    assert r.status_code == 403, r.text
    err = r.json()["error"]
    assert err["code"] == "ledger_not_allowed" and err["path"] == "[1].ledger"
    assert "%d, %d" % (MINE, ALSO_MINE) in err["message"] and str(OTHER) in err["message"]
    assert admin.post("/v1/accounts/lookup", {"ids": [str(a), str(b)]}).json()["accounts"] == []
    assert api.create_accounts(accounts(a, b, ledger=MINE)) == ["ok", "ok"]
    assert admin.create_accounts(accounts(c, d, ledger=OTHER)) == ["ok", "ok"]
    t = new_id()
    r = api.post("/v1/transfers", [transfer(t, a, b, 5, ledger=MINE),
                                   transfer(new_id(), c, d, 5, ledger=OTHER)])
    assert r.status_code == 403 and code(r) == "ledger_not_allowed"
    assert r.json()["error"]["path"] == "[1].ledger"
    assert admin.get("/v1/transfers/%d" % t).status_code == 404  # nothing applied
    # An allowed ledger naming another ledger's accounts: the ledger refuses it.
    assert api.create_transfers([transfer(new_id(), c, d, 5, ledger=MINE)]) == [
        "transfer_must_have_the_same_ledger_as_accounts"]
    # A post/void must name its ledger too (0 would mean "as the pending transfer").
    p = new_id()
    assert admin.create_transfers([transfer(p, c, d, 5, ledger=OTHER, flags=["pending"])]) == ["ok"]
    r = api.post("/v1/transfers", [{"id": str(new_id()), "pending_id": str(p),
                                    "flags": ["void_pending_transfer"]}])
    assert r.status_code == 403 and r.json()["error"]["path"] == "[0].ledger"
    assert "every event must name one of them" in r.json()["error"]["message"]
    assert api.create_transfers([{"id": str(new_id()), "pending_id": str(p), "ledger": MINE,
                                  "flags": ["void_pending_transfer"]}]) == [
        "pending_transfer_has_different_ledger"]
    assert admin.transfer(p)["pending_state"] == "pending"
    assert api.create_transfers([transfer(t, a, b, 5, ledger=MINE)]) == ["ok"]


def test_restricted_key_sees_other_ledgers_as_unknown(server, keys):
    admin, api = restricted(server, keys)
    a, b, c, d, unknown = new_id(), new_id(), new_id(), new_id(), new_id()
    assert admin.create_accounts(accounts(a, b, ledger=ALSO_MINE)) == ["ok", "ok"]
    assert admin.create_accounts(accounts(c, d, ledger=OTHER)) == ["ok", "ok"]
    mine, other = new_id(), new_id()
    assert admin.create_transfers([transfer(mine, a, b, 1, ledger=ALSO_MINE),
                                   transfer(other, c, d, 1, ledger=OTHER)]) == ["ok", "ok"]
    assert api.get("/v1/accounts/%d" % a).status_code == 200
    assert api.get("/v1/transfers/%d" % mine).status_code == 200
    for path, hidden_id in [("/v1/accounts/%d", c), ("/v1/transfers/%d", other),
                            ("/v1/accounts/%d/transfers", c), ("/v1/accounts/%d/balances", c)]:
        hidden = api.get(path % hidden_id)
        missing = api.get(path % unknown)
        assert hidden.status_code == missing.status_code == 404, path
        assert hidden.json()["error"] == missing.json()["error"], path
        assert admin.get(path % hidden_id).status_code == 200, path
    r = api.post("/v1/accounts/lookup", {"ids": [str(c), str(a), str(d), str(b)]})
    assert [x["id"] for x in r.json()["accounts"]] == [str(a), str(b)]
    r = api.post("/v1/transfers/lookup", {"ids": [str(other), str(mine)]})
    assert [x["id"] for x in r.json()["transfers"]] == [str(mine)]
    assert len(admin.post("/v1/transfers/lookup", {"ids": [str(other), str(mine)]})
               .json()["transfers"]) == 2
    # Queries must name an allowed ledger, and then see only it.
    for kind in ("accounts", "transfers"):
        for body in ({}, {"ledger": OTHER}):
            r = api.post("/v1/%s/query" % kind, body)
            assert r.status_code == 403 and code(r) == "ledger_not_allowed", (kind, body, r.text)
            assert r.json()["error"]["path"] == "ledger"
    r = api.post("/v1/transfers/query", {"ledger": ALSO_MINE, "flags": ["reversed"], "limit": 1})
    assert r.status_code == 200 and [x["id"] for x in r.json()["transfers"]] == [str(mine)]
    # The audit covers every ledger: not for a restricted key, unless it is admin.
    r = api.get("/v1/audit")
    assert r.status_code == 403 and code(r) == "ledger_not_allowed"
    assert "%d, %d" % (MINE, ALSO_MINE) in r.json()["error"]["message"]
    boss = Api(server, make_key(server.data_dir, "boss%d" % new_id(), "admin",
                                "--ledgers", str(MINE)))
    assert until_known(boss, "/v1/audit").status_code == 200
    assert boss.get("/v1/accounts/%d" % a).status_code == 404  # still restricted for records


def test_rate_limited_key_gets_429_then_recovers(server):
    name = "rate%d" % new_id()
    key = make_key(server.data_dir, name, "ledger:read", "--rate", "1", "--burst", "3")
    api = Api(server, key)
    assert until_known(api).status_code == 200  # the burst's first
    assert api.get("/v1/openapi.json").status_code == 200
    assert api.get("/v1/audit").status_code == 200
    r = api.get("/v1/audit")
    exhausted = time.time()
    assert r.status_code == 429, r.text
    assert code(r) == "rate_limited" and r.json()["error"]["path"] == ""
    assert name in r.json()["error"]["message"]
    assert r.headers["Retry-After"] == "1"
    assert r.headers["Content-Type"].startswith("application/json")
    assert "X-Request-Id" in r.headers
    # A reload of the key file (another key created) keeps the bucket empty.
    other = Api(server, make_key(server.data_dir, "other%d" % new_id(), "ledger:read"))
    assert until_known(other).status_code == 200
    r = api.get("/v1/audit")
    if time.time() - exhausted < 0.9:  # a token takes a second to come back
        assert r.status_code == 429 and code(r) == "rate_limited"
    time.sleep(1.1)
    assert api.get("/v1/audit").status_code == 200
    metrics = requests.get(server.url("/metrics")).text
    key_id = key.split("_")[1]
    m = re.search(r'^quipu_http_rate_limited_total\{key="%s"\} (\d+)$' % key_id, metrics, re.M)
    assert m and int(m.group(1)) >= 1, metrics
    assert 'status="429"' in metrics


def test_keys_cli_refuses_bad_limits(tmp_dir):
    data = tmp_dir + "/d"
    for flags, says in [(["--expires-in", "10"], "s, m, h or d"),
                        (["--expires-in", "0d"], "from 1s"),
                        (["--expires-at", "2020-01-01T00:00:00Z"], "passed"),
                        (["--expires-at", "2031-13-01T00:00:00Z"], "YYYY-MM-DDTHH:MM:SSZ"),
                        (["--expires-at", "2031-01-01 00:00:00"], "YYYY-MM-DDTHH:MM:SSZ"),
                        (["--expires-in", "1d", "--expires-at", "2031-01-01T00:00:00Z"], "not both"),
                        (["--ledgers", "1,0"], "1 to 4294967295"),
                        (["--ledgers", ",".join(str(i) for i in range(1, 66))], "at most 64"),
                        (["--rate", "1.5"], "1 to 1000000"),
                        (["--burst", "10"], "needs --rate")]:
        r = quipu("keys", "create", "--data", data, "--name", "x", "--scope", "admin", *flags,
                  check=False)
        assert r.returncode == 2, (flags, r.stderr)
        assert says in r.stderr, (flags, r.stderr)
    r = quipu("keys", "list", "--data", data, "--rate", "5", check=False)
    assert r.returncode == 2
    make_key(data, "ok", "admin", "--expires-in", "30d", "--ledgers", "4,5", "--rate", "10")
    line = quipu("keys", "list", "--data", data).stdout.splitlines()[1]
    assert "active" in line and "4,5" in line and "10/s burst 10" in line
