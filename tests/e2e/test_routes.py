"""Every route of the v1 API with well-formed requests, and the ledger's
semantics over HTTP: idempotency, linked chains, two-phase transfers,
timeouts, balance limits, history paging and the audit."""
import re
import time

from conftest import accounts, new_id, transfer


def test_healthz_and_request_id(server):
    import requests
    r = requests.get(server.url("/healthz"))
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    assert re.fullmatch(r"[0-9a-f]{24}", r.headers["X-Request-Id"])
    r2 = requests.get(server.url("/healthz"))
    assert r2.headers["X-Request-Id"] != r.headers["X-Request-Id"]
    r3 = requests.get(server.url("/healthz"), headers={"X-Request-Id": "trace-42.a_b"})
    assert r3.headers["X-Request-Id"] == "trace-42.a_b"
    r4 = requests.get(server.url("/healthz"), headers={"X-Request-Id": "bad id with spaces"})
    assert r4.headers["X-Request-Id"] != "bad id with spaces"


def test_create_and_get_account(api):
    a, b = new_id(), new_id()
    body = accounts(a, b, ledger=840, code=7)
    body[1].update({"user_data_128": "340282366920938463463374607431768211455", "user_data_64": 64,
                    "user_data_32": 32, "flags": ["history", "debits_must_not_exceed_credits"]})
    r = api.post("/v1/accounts", body)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert "X-Request-Id" in r.headers
    assert r.json() == {"results": [{"index": 0, "id": str(a), "result": "ok"},
                                    {"index": 1, "id": str(b), "result": "ok"}]}
    acc = api.account(b)
    assert acc["id"] == str(b)
    assert acc["ledger"] == 840 and acc["code"] == 7
    assert acc["user_data_128"] == "340282366920938463463374607431768211455"
    assert acc["user_data_64"] == "64" and acc["user_data_32"] == 32
    assert sorted(acc["flags"]) == ["debits_must_not_exceed_credits", "history"]
    for f in ("debits_pending", "debits_posted", "credits_pending", "credits_posted"):
        assert acc[f] == "0"
    assert int(acc["timestamp"]) > 0 and isinstance(acc["timestamp"], str)


def test_idempotency(api):
    a, b, t = new_id(), new_id(), new_id()
    assert api.create_accounts(accounts(a, b)) == ["ok", "ok"]
    assert api.create_accounts(accounts(a, b)) == ["exists", "exists"]
    assert api.create_accounts(accounts(a, code=2)) == ["exists_with_different_code"]
    assert api.create_transfers([transfer(t, a, b, 10)]) == ["ok"]
    assert api.create_transfers([transfer(t, a, b, 10)]) == ["exists"]
    assert api.create_transfers([transfer(t, a, b, 11)]) == ["exists_with_different_amount"]
    assert api.account(b)["credits_posted"] == "10"


def test_rule_violations_are_results_not_errors(api):
    a = new_id()
    body = [{"id": "0", "ledger": 1, "code": 1}, {"id": str(a), "ledger": 0, "code": 1},
            {"id": str(new_id()), "ledger": 1, "code": 1, "timestamp": "5"}]
    assert api.create_accounts(body) == ["id_must_not_be_zero", "ledger_must_not_be_zero",
                                         "timestamp_must_be_zero"]
    assert api.get("/v1/accounts/%d" % a).status_code == 404


def test_transfers_get_and_lookup(api):
    a, b, t1, t2 = new_id(), new_id(), new_id(), new_id()
    api.create_accounts(accounts(a, b))
    assert api.create_transfers([transfer(t1, a, b, 5, user_data_64="7"),
                                 transfer(t2, b, a, 2)]) == ["ok", "ok"]
    t = api.transfer(t1)
    assert t["amount"] == "5" and t["debit_account_id"] == str(a) and t["user_data_64"] == "7"
    assert "pending_state" not in t
    r = api.post("/v1/transfers/lookup", {"ids": [str(t2), t1, "999999999999999999999"]})
    assert r.status_code == 200
    assert [x["id"] for x in r.json()["transfers"]] == [str(t2), str(t1)]
    r = api.post("/v1/accounts/lookup", {"ids": [b, str(a), 1]})
    assert r.status_code == 200
    got = {x["id"]: x for x in r.json()["accounts"]}
    assert list(got) == [str(b), str(a)]
    assert got[str(a)]["debits_posted"] == "5" and got[str(a)]["credits_posted"] == "2"
    assert api.get("/v1/transfers/%d" % new_id()).status_code == 404


def test_get_not_found_envelope(api):
    r = api.get("/v1/accounts/%d" % new_id())
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    assert r.json()["error"]["path"] == "id"
    assert "X-Request-Id" in r.headers


def test_linked_chain_fails_as_a_whole(api):
    a, b = new_id(), new_id()
    api.create_accounts(accounts(a, b))
    t1, t2, t3 = new_id(), new_id(), new_id()
    res = api.create_transfers([transfer(t1, a, b, 5, flags=["linked"]),
                                transfer(t2, a, b, 0, flags=["linked"]),
                                transfer(t3, a, b, 7)])
    assert res == ["linked_event_failed", "amount_must_not_be_zero", "linked_event_failed"]
    assert api.get("/v1/transfers/%d" % t1).status_code == 404
    assert api.account(a)["debits_posted"] == "0"
    res = api.create_transfers([transfer(new_id(), a, b, 5, flags=["linked"])])
    assert res == ["linked_event_chain_open"]
    res = api.create_transfers([transfer(new_id(), a, b, 5, flags=["linked"]), transfer(new_id(), a, b, 6)])
    assert res == ["ok", "ok"]
    assert api.account(b)["credits_posted"] == "11"


def test_two_phase_post_and_void(api):
    a, b = new_id(), new_id()
    api.create_accounts(accounts(a, b))
    p1, p2 = new_id(), new_id()
    assert api.create_transfers([transfer(p1, a, b, 100, flags=["pending"]),
                                 transfer(p2, a, b, 50, flags=["pending"])]) == ["ok", "ok"]
    acc = api.account(a)
    assert acc["debits_pending"] == "150" and acc["debits_posted"] == "0"
    assert api.transfer(p1)["pending_state"] == "pending"
    post, void = new_id(), new_id()
    res = api.create_transfers([
        {"id": str(post), "pending_id": str(p1), "amount": "60", "flags": ["post_pending_transfer"]},
        {"id": str(void), "pending_id": str(p2), "flags": ["void_pending_transfer"]}])
    assert res == ["ok", "ok"]
    acc = api.account(a)
    assert acc["debits_pending"] == "0" and acc["debits_posted"] == "60"
    assert api.account(b)["credits_posted"] == "60"
    assert api.transfer(p1)["pending_state"] == "posted"
    assert api.transfer(p2)["pending_state"] == "voided"
    res = api.create_transfers([{"id": str(new_id()), "pending_id": str(p1), "flags": ["void_pending_transfer"]}])
    assert res == ["pending_transfer_already_posted"]


def test_pending_timeout_expires(api):
    a, b, p = new_id(), new_id(), new_id()
    api.create_accounts(accounts(a, b))
    assert api.create_transfers([transfer(p, a, b, 9, flags=["pending"], timeout=1)]) == ["ok"]
    time.sleep(2.3)  # past the timeout, and past the writer's idle expiry sweep
    res = api.create_transfers([{"id": str(new_id()), "pending_id": str(p), "flags": ["post_pending_transfer"]}])
    assert res == ["pending_transfer_expired"]
    assert api.transfer(p)["pending_state"] == "expired"
    assert api.account(a)["debits_pending"] == "0"


def test_balance_limits_and_balancing(api):
    bank, user, shop = new_id(), new_id(), new_id()
    body = accounts(bank, user, shop)
    body[1]["flags"] = ["debits_must_not_exceed_credits"]
    api.create_accounts(body)
    assert api.create_transfers([transfer(new_id(), bank, user, 100)]) == ["ok"]
    assert api.create_transfers([transfer(new_id(), user, shop, 101)]) == ["exceeds_credits"]
    assert api.create_transfers([transfer(new_id(), user, shop, 60)]) == ["ok"]
    t = new_id()
    assert api.create_transfers([transfer(t, user, shop, 1000, flags=["balancing_debit"])]) == ["ok"]
    assert api.transfer(t)["amount"] == "40"
    acc = api.account(user)
    assert acc["debits_posted"] == "100" and acc["credits_posted"] == "100"


def test_history_paging_and_filters(api):
    a, b, c = new_id(), new_id(), new_id()
    api.create_accounts(accounts(a, flags=["history"]) + accounts(b, c))
    ids = [new_id() for _ in range(7)]
    batch = [transfer(ids[i], a if i % 2 == 0 else b, b if i % 2 == 0 else a, i + 1) for i in range(6)]
    batch.append(transfer(ids[6], b, c, 100))
    assert api.create_transfers(batch) == ["ok"] * 7
    r = api.get("/v1/accounts/%d/transfers" % a)
    assert r.status_code == 200
    assert [t["id"] for t in r.json()["transfers"]] == [str(i) for i in ids[:6]]
    assert r.json()["next"] is None
    seen, cursor = [], None
    while True:
        q = "?limit=4" + ("&from=%s" % cursor if cursor else "")
        page = api.get("/v1/accounts/%d/transfers%s" % (a, q)).json()
        seen += [t["id"] for t in page["transfers"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [str(i) for i in ids[:6]]
    rev = api.get("/v1/accounts/%d/transfers?reversed=true&limit=2" % a).json()
    assert [t["id"] for t in rev["transfers"]] == [str(ids[5]), str(ids[4])]
    rev2 = api.get("/v1/accounts/%d/transfers?reversed=true&limit=2&to=%s" % (a, rev["next"])).json()
    assert [t["id"] for t in rev2["transfers"]] == [str(ids[3]), str(ids[2])]
    debits = api.get("/v1/accounts/%d/transfers?credits=false" % a).json()["transfers"]
    assert [t["id"] for t in debits] == [str(ids[i]) for i in (0, 2, 4)]
    credits = api.get("/v1/accounts/%d/transfers?debits=false" % a).json()["transfers"]
    assert [t["id"] for t in credits] == [str(ids[i]) for i in (1, 3, 5)]
    all_ts = [int(t["timestamp"]) for t in api.get("/v1/accounts/%d/transfers" % a).json()["transfers"]]
    window = api.get("/v1/accounts/%d/transfers?from=%d&to=%d" % (a, all_ts[1], all_ts[3])).json()
    assert [t["id"] for t in window["transfers"]] == [str(ids[i]) for i in (1, 2, 3)]
    bal = api.get("/v1/accounts/%d/balances" % a)
    assert bal.status_code == 200
    rows = bal.json()["balances"]
    assert len(rows) == 6 and bal.json()["next"] is None
    assert [r["transfer_id"] for r in rows] == [str(i) for i in ids[:6]]
    assert rows[-1]["debits_posted"] == "9" and rows[-1]["credits_posted"] == "12"
    assert api.get("/v1/accounts/%d/balances" % b).json()["balances"] == []  # no history flag
    p = new_id()
    assert api.create_transfers([transfer(p, b, a, 3, flags=["pending"])]) == ["ok"]
    rows = api.get("/v1/accounts/%d/transfers?reversed=true&limit=1" % a).json()["transfers"]
    assert rows[0]["id"] == str(p) and rows[0]["pending_state"] == "pending"
    assert "pending_state" not in api.get("/v1/accounts/%d/transfers?limit=1" % a).json()["transfers"][0]
    assert api.get("/v1/accounts/%d/transfers" % new_id()).status_code == 404


def test_history_query_errors(api):
    a = new_id()
    api.create_accounts(accounts(a))
    for q, code, path in [("limit=0", "out_of_range", "limit"), ("limit=8191", "out_of_range", "limit"),
                          ("limit=x", "invalid_value", "limit"), ("reversed=maybe", "invalid_value", "reversed"),
                          ("color=red", "unknown_field", "color"), ("from=5&to=4", "invalid_value", "from"),
                          ("debits=false&credits=false", "invalid_value", "debits")]:
        r = api.get("/v1/accounts/%d/transfers?%s" % (a, q))
        assert r.status_code == 400, q
        assert r.json()["error"]["code"] == code, q
        assert r.json()["error"]["path"] == path, q


def test_audit(api):
    a, b = new_id(), new_id()
    api.create_accounts(accounts(a, b, ledger=77))
    api.create_transfers([transfer(new_id(), a, b, 1234, ledger=77), transfer(new_id(), a, b, 5, ledger=77, flags=["pending"])])
    audit = api.audit()
    assert audit["invariant_ok"] is True
    assert re.fullmatch(r"[0-9a-f]{64}", audit["head_hash"])
    assert int(audit["batches"]) >= 2 and int(audit["events"]) >= 4
    assert int(audit["journal_bytes"]) > 0
    row = [l for l in audit["ledgers"] if l["ledger"] == 77][0]
    assert row["debits_posted"] == row["credits_posted"]
    assert row["debits_pending"] == row["credits_pending"]
    assert row["balanced"] is True and int(row["debits_posted"]) >= 1234


def test_metrics(api, server):
    import requests
    api.create_accounts(accounts(new_id()))
    text = requests.get(server.url("/metrics")).text
    assert 'quipu_http_requests_total{method="POST",route="/v1/accounts",status="200"}' in text
    for name in ("quipu_commit_duration_seconds_bucket", "quipu_batch_events_bucket",
                 "quipu_http_request_duration_seconds_count", 'quipu_events_total{kind="account",result="ok"}',
                 "quipu_journal_bytes", "quipu_commits_total", "quipu_connections_open", "quipu_queue_depth"):
        assert name in text, name
    journal = int(re.search(r"^quipu_journal_bytes (\d+)$", text, re.M).group(1))
    assert journal == int(api.audit()["journal_bytes"])


def test_openapi_lists_every_served_route(api, server):
    """Every operation in the spec is served (not 404/405), and probing
    served-looking paths that are not in the spec gives 404/405."""
    import requests
    r = api.get("/v1/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    assert spec["openapi"].startswith("3.1")
    ops = [(m.upper(), p) for p, item in spec["paths"].items() for m in item]
    assert len(ops) == 18  # the ledger's, the core's, and the four /v1/cluster routes
    a = new_id()
    api.create_accounts(accounts(a))
    for method, path in ops:
        concrete = path.replace("{id}", str(a))
        body = [] if path in ("/v1/accounts", "/v1/transfers") else {"ids": [str(a)]}
        resp = api.session.request(method, server.url(concrete), json=body if method == "POST" else None)
        assert resp.status_code not in (404, 405) or resp.json()["error"]["code"] == "not_found" and "{id}" in path, (method, path, resp.text)
        assert not (resp.status_code == 404 and resp.json()["error"]["path"] == ""), (method, path)
    # Routes the spec does not list are not served.
    for method, path in [("GET", "/v1/accounts"), ("DELETE", "/v1/accounts/%d" % a), ("GET", "/v1"),
                         ("GET", "/v2/accounts"), ("PUT", "/v1/transfers"), ("GET", "/v1/accounts/%d/x" % a)]:
        resp = api.session.request(method, server.url(path))
        assert resp.status_code in (404, 405), (method, path)
        assert resp.json()["error"]["code"] in ("not_found", "method_not_allowed")


def test_closing_account(api):
    """TigerBeetle's closing transfers over HTTP: close, refuse, void to re-open."""
    a, b, c = new_id(), new_id(), new_id()
    assert api.create_accounts(accounts(a, b, c)) == ["ok", "ok", "ok"]
    assert api.create_transfers([transfer(new_id(), a, b, 10)]) == ["ok"]
    t_close, t_bad = new_id(), new_id()
    assert api.create_transfers([transfer(t_bad, a, c, 0, flags=["closing_debit"])]) == [
        "closing_transfer_must_be_pending"]
    assert api.create_transfers([transfer(t_close, a, c, 0, flags=["pending", "closing_debit"])]) == [
        "ok"]
    assert "closed" in api.account(a)["flags"]
    assert "closed" not in api.account(c)["flags"]
    assert sorted(api.transfer(t_close)["flags"]) == ["closing_debit", "pending"]
    assert api.create_transfers([transfer(new_id(), a, b, 1),
                                 transfer(new_id(), b, a, 1)]) == [
        "debit_account_already_closed", "credit_account_already_closed"]
    post = {"id": str(new_id()), "pending_id": str(t_close), "flags": ["post_pending_transfer"]}
    assert api.create_transfers([post]) == ["debit_account_already_closed"]
    void = {"id": str(new_id()), "pending_id": str(t_close), "flags": ["void_pending_transfer"]}
    assert api.create_transfers([void]) == ["ok"]
    assert "closed" not in api.account(a)["flags"]
    assert api.transfer(t_close)["pending_state"] == "voided"
    assert api.create_transfers([transfer(new_id(), a, b, 1)]) == ["ok"]
    # Created closed (TigerBeetle allows it): refused from the start.
    d = new_id()
    assert api.create_accounts(accounts(d, flags=["closed"])) == ["ok"]
    assert api.account(d)["flags"] == ["closed"]
    assert api.create_transfers([transfer(new_id(), b, d, 1)]) == ["credit_account_already_closed"]
    assert api.audit()["invariant_ok"] is True


def test_imported_events(api):
    """TigerBeetle's imported events over HTTP: history keeps its own timestamps, strictly
    after everything the ledger holds and before now; a batch imports wholly or not at all."""
    a, b = new_id(), new_id()
    assert api.create_accounts(accounts(a, b)) == ["ok", "ok"]
    time.sleep(0.05)  # room between the last event and now
    base = time.time_ns() - 20_000_000
    t1, t2, t3 = new_id(), new_id(), new_id()
    first = transfer(t1, a, b, 5, flags=["imported"], timestamp=str(base))
    assert api.create_transfers([first]) == ["ok"]
    got = api.transfer(t1)
    assert got["timestamp"] == str(base) and got["flags"] == ["imported"]
    assert api.account(a)["debits_posted"] == "5"
    # Out of order, in the future, zero, mixed with ordinary events, with a timeout.
    assert api.create_transfers([transfer(t2, a, b, 1, flags=["imported"],
                                          timestamp=str(base))]) == [
        "imported_event_timestamp_must_not_regress"]
    assert api.create_transfers([transfer(t2, a, b, 1, flags=["imported"],
                                          timestamp=str(time.time_ns() + 10**12))]) == [
        "imported_event_timestamp_must_not_advance"]
    assert api.create_transfers([transfer(t2, a, b, 1, flags=["imported"], timestamp="0")]) == [
        "imported_event_timestamp_out_of_range"]
    assert api.create_transfers([transfer(t2, a, b, 1, flags=["imported"], timestamp=str(base + 1)),
                                 transfer(t3, a, b, 1)]) == ["ok", "imported_event_expected"]
    assert api.create_transfers([transfer(t3, a, b, 1),
                                 transfer(new_id(), a, b, 1, flags=["imported"],
                                          timestamp=str(base + 2))]) == [
        "ok", "imported_event_not_expected"]
    assert api.create_transfers([transfer(new_id(), a, b, 1, flags=["imported", "pending"],
                                          timeout=5, timestamp=str(time.time_ns() - 1000))]) == [
        "imported_event_timeout_must_be_zero"]
    # The ledger's own clock goes on after the imports.
    assert int(api.transfer(t3)["timestamp"]) > base + 1
    assert api.audit()["invariant_ok"] is True


def test_submitted_by_names_the_key(server, keys, tmp_dir):
    """The journal records which key submitted each batch; transfer lookups, history and
    queries show it, and so does a ledger whose index was rebuilt from the journal."""
    from conftest import Api
    rw_id = keys["rw"].split("_")[1]
    admin = Api(server, keys["admin"])
    admin_id = keys["admin"].split("_")[1]
    a, b = new_id(), new_id()
    assert admin.create_accounts(accounts(a, b)) == ["ok", "ok"]
    t1, t2 = new_id(), new_id()
    rw = Api(server, keys["rw"])
    assert rw.create_transfers([transfer(t1, a, b, 3)]) == ["ok"]
    assert admin.create_transfers([transfer(t2, b, a, 1)]) == ["ok"]
    assert rw.transfer(t1)["submitted_by"] == rw_id
    assert rw.transfer(t2)["submitted_by"] == admin_id
    got = rw.post("/v1/transfers/lookup", {"ids": [str(t2), str(t1)]}).json()["transfers"]
    assert [x["submitted_by"] for x in got] == [admin_id, rw_id]
    hist = rw.get("/v1/accounts/%d/transfers" % a).json()["transfers"]
    assert [(x["id"], x["submitted_by"]) for x in hist] == [(str(t1), rw_id), (str(t2), admin_id)]
    q = rw.post("/v1/transfers/query", {"ledger": 1, "flags": ["reversed"], "limit": 2}).json()
    assert q["transfers"][0]["submitted_by"] == admin_id
