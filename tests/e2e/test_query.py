"""POST /v1/accounts/query and /v1/transfers/query (TigerBeetle's query_accounts and
query_transfers) against the real binary: every given field must match, results come in
timestamp order (or reversed), pages chain through `next`, and bad filters are refused
precisely."""
import random

import requests

from conftest import Api, accounts, new_id, transfer


def tag():
    """A user_data_128 no other test uses, so the shared server's other data stays out."""
    return str(random.getrandbits(120) | (1 << 121))


def query(api, kind, **filt):
    r = api.post("/v1/%s/query" % kind, filt)
    assert r.status_code == 200, r.text
    return r.json()


def test_query_accounts_by_fields(api):
    t = tag()
    ids = [new_id() for _ in range(6)]
    body = accounts(*ids, ledger=7, code=3)
    for i, a in enumerate(body):
        a["user_data_128"] = t
        a["user_data_64"] = str(i % 2)      # 0 means "not set": never matched by a filter
        a["user_data_32"] = 10 + i % 3
        a["code"] = 3 if i < 4 else 4
    assert api.create_accounts(body) == ["ok"] * 6
    got = query(api, "accounts", user_data_128=t)
    assert [a["id"] for a in got["accounts"]] == [str(i) for i in ids]
    assert got["next"] is None
    stamps = [int(a["timestamp"]) for a in got["accounts"]]
    assert stamps == sorted(stamps)
    assert [a["id"] for a in query(api, "accounts", user_data_128=t, code=4)["accounts"]] == [
        str(ids[4]), str(ids[5])]
    assert [a["id"] for a in query(api, "accounts", user_data_128=t, user_data_64="1",
                                   user_data_32=11)["accounts"]] == [str(ids[1])]
    assert query(api, "accounts", user_data_128=t, ledger=8)["accounts"] == []
    rev = query(api, "accounts", user_data_128=t, flags=["reversed"], limit=2)
    assert [a["id"] for a in rev["accounts"]] == [str(ids[5]), str(ids[4])]
    assert rev["next"] == str(stamps[3])
    # Balances are the accounts' current ones.
    assert api.create_transfers([transfer(new_id(), ids[0], ids[1], 25, ledger=7, code=1)]) == [
        "ok"]
    first = query(api, "accounts", user_data_128=t, limit=1)["accounts"][0]
    assert first["debits_posted"] == "25"


def test_query_transfers_pages_and_ranges(api):
    t = tag()
    a, b = new_id(), new_id()
    assert api.create_accounts(accounts(a, b, ledger=9)) == ["ok", "ok"]
    tids = [new_id() for _ in range(7)]
    batch = [transfer(i, a, b, 1 + k, ledger=9, code=5 + k % 2, user_data_128=t)
             for k, i in enumerate(tids)]
    batch[6]["flags"] = ["pending"]
    assert api.create_transfers(batch) == ["ok"] * 7
    # Forward pages of 3 chained by `next`.
    seen, cursor = [], None
    while True:
        filt = {"user_data_128": t, "limit": 3}
        if cursor:
            filt["timestamp_min"] = cursor
        page = query(api, "transfers", **filt)
        seen += [x["id"] for x in page["transfers"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [str(i) for i in tids]
    # Reversed pages.
    seen, cursor = [], None
    while True:
        filt = {"user_data_128": t, "limit": 4, "flags": ["reversed"]}
        if cursor:
            filt["timestamp_max"] = cursor
        page = query(api, "transfers", **filt)
        seen += [x["id"] for x in page["transfers"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [str(i) for i in reversed(tids)]
    odd = query(api, "transfers", user_data_128=t, code=6)["transfers"]
    assert [x["id"] for x in odd] == [str(tids[k]) for k in (1, 3, 5)]
    all_t = query(api, "transfers", user_data_128=t)["transfers"]
    assert all_t[6]["pending_state"] == "pending"
    lo, hi = all_t[2]["timestamp"], all_t[4]["timestamp"]
    mid = query(api, "transfers", user_data_128=t, timestamp_min=lo, timestamp_max=hi)
    assert [x["id"] for x in mid["transfers"]] == [str(tids[k]) for k in (2, 3, 4)]
    # The newest transfer of the whole ledger 9, without user data.
    newest = query(api, "transfers", ledger=9, flags=["reversed"], limit=1)["transfers"]
    assert newest[0]["id"] == str(tids[6])


def test_query_bad_filters(api):
    cases = [
        ({"user_data_129": "1"}, "unknown_field", "user_data_129"),
        ({"limit": 0}, "out_of_range", "limit"),
        ({"limit": 8191}, "out_of_range", "limit"),
        ({"ledger": -1}, "out_of_range", "ledger"),
        ({"code": 65536}, "out_of_range", "code"),
        ({"flags": ["backwards"]}, "invalid_value", "flags[0]"),
        ({"flags": ["reversed", "reversed"]}, "invalid_value", "flags[1]"),
        ({"timestamp_min": "10", "timestamp_max": "9"}, "invalid_value", "timestamp_min"),
        ({"user_data_64": "18446744073709551616"}, "out_of_range", "user_data_64"),
        ({"user_data_128": "01"}, "invalid_value", "user_data_128"),
    ]
    for kind in ("accounts", "transfers"):
        for body, code, path in cases:
            r = api.post("/v1/%s/query" % kind, body)
            assert r.status_code == 400, (body, r.text)
            err = r.json()["error"]
            assert (err["code"], err["path"]) == (code, path), (body, err)
        r = api.post("/v1/%s/query" % kind, [])
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_type"


def test_query_scopes(server, keys):
    ro = Api(server, keys["ro"])
    assert ro.post("/v1/accounts/query", {"limit": 1}).status_code == 200
    wo = Api(server, keys["wo"])
    assert wo.post("/v1/transfers/query", {"limit": 1}).status_code == 403
    r = requests.post(server.url("/v1/transfers/query"), json={"limit": 1},
                      verify=server.cacert or True)
    assert r.status_code == 401


def test_one_batchs_many_transfers_per_account_and_per_value(api):
    """A single batch (one index round) with many transfers on the same
    accounts and the same code/user data: every one is in each account's
    history and in each query set, in timestamp order (the index writes a
    round's entries of one set at once)."""
    ids = [new_id() for _ in range(4)]
    assert api.create_accounts(accounts(*ids, ledger=11, code=2)) == ["ok"] * 4
    t = tag()
    rng = random.Random(7)
    batch, want = [], {i: 0 for i in ids}
    for k in range(600):
        a, b = rng.sample(ids, 2)
        batch.append(transfer(new_id(), a, b, 1, ledger=11, code=7 + k % 3, user_data_128=t))
        want[a] += 1
        want[b] += 1
    assert api.create_transfers(batch) == ["ok"] * 600
    for i in ids:
        r = api.get("/v1/accounts/%d/transfers?limit=8190" % i)
        assert r.status_code == 200, r.text
        rows = r.json()["transfers"]
        assert len(rows) == want[i]
        stamps = [int(x["timestamp"]) for x in rows]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    for code in (7, 8, 9):
        got = query(api, "transfers", user_data_128=t, code=code, limit=8190)["transfers"]
        assert len(got) == 200
        stamps = [int(x["timestamp"]) for x in got]
        assert stamps == sorted(stamps)
    assert len(query(api, "transfers", user_data_128=t, limit=8190)["transfers"]) == 600
