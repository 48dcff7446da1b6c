"""Bad input gets a clear error (the envelope, the right status, the field's
path) and changes nothing: no event of a refused request is applied."""
import socket
import time

import requests

from conftest import accounts, new_id, transfer


def envelope(r, status, code, path=None):
    assert r.status_code == status, r.text
    assert "X-Request-Id" in r.headers
    assert r.headers["Content-Type"].startswith("application/json")
    err = r.json()["error"]
    assert err["code"] == code, err
    assert isinstance(err["message"], str) and err["message"]
    assert "path" in err
    if path is not None:
        assert err["path"] == path, err
    return err


def post_raw(api, path, data, content_type="application/json"):
    return api.session.post(api.server.url(path), data=data, headers={"Content-Type": content_type})


def assert_not_applied(api, *transfer_ids):
    r = api.post("/v1/transfers/lookup", {"ids": [str(i) for i in transfer_ids]})
    assert r.status_code == 200 and r.json()["transfers"] == []


def setup_pair(api):
    a, b = new_id(), new_id()
    api.create_accounts(accounts(a, b))
    return a, b


def test_malformed_json_line_and_column(api):
    a, b = setup_pair(api)
    t = new_id()
    body = '[\n  {"id": "%d", "debit_account_id": "%d", "credit_account_id": "%d",\n   "amount": 5 "ledger": 1}\n]' % (t, a, b)
    err = envelope(post_raw(api, "/v1/transfers", body), 400, "invalid_json", "")
    assert err["line"] == 3 and err["column"] > 0
    assert "line 3" in err["message"]
    assert_not_applied(api, t)
    envelope(post_raw(api, "/v1/transfers", ""), 400, "invalid_json")
    envelope(post_raw(api, "/v1/transfers", "[1,]"), 400, "invalid_json")


def test_wrong_types(api):
    a, b = setup_pair(api)
    good, t = new_id(), new_id()
    cases = [
        ({"id": str(t)}, "invalid_type", ""),  # not an array
        ([transfer(good, a, b, 1), 7], "invalid_type", "[1]"),
        ([transfer(good, a, b, 1), dict(transfer(t, a, b, 1), amount=True)], "invalid_type", "[1].amount"),
        ([transfer(good, a, b, 1), transfer(t, a, b, 1, ledger="1")], "invalid_type", "[1].ledger"),
        ([transfer(good, a, b, 1), dict(transfer(t, a, b, 1), flags="pending")], "invalid_type", "[1].flags"),
        ([transfer(good, a, b, 1), dict(transfer(t, a, b, 1), amount=1.5)], "invalid_type", "[1].amount"),
    ]
    for body, code, path in cases:
        envelope(api.post("/v1/transfers", body), 400, code, path)
    assert_not_applied(api, good, t)


def test_unknown_and_missing_fields(api):
    a, b = setup_pair(api)
    good, t = new_id(), new_id()
    envelope(api.post("/v1/transfers", [transfer(good, a, b, 1), dict(transfer(t, a, b, 1), memo="hi")]),
             400, "unknown_field", "[1].memo")
    missing = transfer(t, a, b, 1)
    del missing["amount"]
    envelope(api.post("/v1/transfers", [transfer(good, a, b, 1), missing]), 400, "missing_field", "[1].amount")
    envelope(api.post("/v1/accounts", [{"id": str(new_id()), "ledger": 1}]), 400, "missing_field", "[0].code")
    envelope(api.post("/v1/transfers", [transfer(good, a, b, 1, flags=["pending", "nope"])]),
             400, "invalid_value", "[0].flags[1]")
    assert_not_applied(api, good, t)


def test_bad_numbers(api):
    a, b = setup_pair(api)
    good = new_id()
    for amount, code in [(-5, "out_of_range"), ("-5", "out_of_range"), ("five", "invalid_value"),
                         ("", "invalid_value"), ("1.0", "invalid_value"),
                         ("340282366920938463463374607431768211456", "out_of_range")]:
        body = [transfer(good, a, b, 1), dict(transfer(new_id(), a, b, 1), amount=amount)]
        envelope(api.post("/v1/transfers", body), 400, code, "[1].amount")
    # A bare JSON integer beyond 2^63-1 cannot be read exactly by the parser.
    body = '[{"id":"%d","debit_account_id":"%d","credit_account_id":"%d","amount":340282366920938463463374607431768211456,"ledger":1,"code":1}]' % (good, a, b)
    err = envelope(post_raw(api, "/v1/transfers", body), 400, "out_of_range")
    assert "string" in err["message"]
    # The largest u128 as a string is fine.
    r = api.post("/v1/accounts", [{"id": "340282366920938463463374607431768211454", "ledger": 1, "code": 1}])
    assert r.status_code == 200
    assert_not_applied(api, good)


def test_empty_and_oversized_batches(api):
    a, b = setup_pair(api)
    envelope(api.post("/v1/transfers", []), 400, "empty_batch", "")
    envelope(api.post("/v1/accounts", []), 400, "empty_batch", "")
    first = new_id()
    big = [transfer(first + i, a, b, 1) for i in range(8191)]
    for i in range(8191):
        new_id()
    envelope(api.post("/v1/transfers", big), 413, "batch_too_large", "")
    assert_not_applied(api, first, first + 8190)
    envelope(api.post("/v1/transfers/lookup", {"ids": [1] * 8191}), 413, "batch_too_large", "ids")
    envelope(api.post("/v1/accounts/lookup", {"ids": []}), 400, "empty_batch", "ids")
    envelope(api.post("/v1/accounts/lookup", {"id": [1]}), 400, "unknown_field", "id")


def test_full_batch_of_8190_is_accepted(api):
    a, b = setup_pair(api)
    first = new_id()
    for _ in range(8190):
        new_id()
    res = api.create_transfers([transfer(first + i, a, b, 1) for i in range(8190)])
    assert res == ["ok"] * 8190
    assert api.account(b)["credits_posted"] == "8190"


def test_wrong_content_type(api):
    a, b = setup_pair(api)
    t = new_id()
    import json
    body = json.dumps([transfer(t, a, b, 1)])
    envelope(post_raw(api, "/v1/transfers", body, "text/plain"), 415, "unsupported_media_type")
    envelope(post_raw(api, "/v1/transfers", body, "application/jsonx"), 415, "unsupported_media_type")
    r = api.session.post(api.server.url("/v1/transfers"), data=body, headers={"Content-Type": None})
    envelope(r, 415, "unsupported_media_type")
    assert_not_applied(api, t)
    assert post_raw(api, "/v1/transfers", body, "application/json; charset=utf-8").status_code == 200


def test_unknown_routes_and_methods(api):
    envelope(api.get("/v1/nothing"), 404, "not_found", "")
    envelope(api.get("/"), 404, "not_found", "")
    r = api.get("/v1/accounts")
    envelope(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "POST"
    r = api.session.delete(api.server.url("/v1/accounts/1"))
    envelope(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "GET"
    r = api.session.put(api.server.url("/v1/transfers"), json=[])
    envelope(r, 405, "method_not_allowed")
    r = api.get("/v1/accounts/lookup")
    envelope(r, 405, "method_not_allowed")
    envelope(api.get("/v1/accounts/12x"), 400, "invalid_value", "id")
    envelope(api.get("/v1/accounts/340282366920938463463374607431768211456"), 400, "out_of_range", "id")


def test_body_and_batch_limits_are_flags(start_server):
    server, api = start_server("--max-body-bytes", "2048", "--max-batch-events", "3")
    a, b = new_id(), new_id()
    api.create_accounts(accounts(a, b))
    ids = [new_id() for _ in range(4)]
    envelope(api.post("/v1/transfers", [transfer(i, a, b, 1) for i in ids]), 413, "batch_too_large")
    assert api.create_transfers([transfer(i, a, b, 1) for i in ids[:3]]) == ["ok"] * 3
    t = new_id()
    big = [dict(transfer(t, a, b, 1), amount="0" * 3000 + "1")]
    envelope(api.post("/v1/transfers", big), 413, "body_too_large")
    # Chunked upload (no Content-Length) past the limit.
    def chunks():
        yield b'[{"id":"%d","debit_account_id":"%d","credit_account_id":"%d","amount":"' % (t, a, b)
        for _ in range(10):
            yield b"0" * 500
        yield b'1","ledger":1,"code":1}]'
    r = api.session.post(server.url("/v1/transfers"), data=chunks(), headers={"Content-Type": "application/json"})
    envelope(r, 413, "body_too_large")
    assert_not_applied(api, t)


def test_memory_budget_for_bodies(start_server):
    server, api = start_server("--max-body-bytes", "1000000", "--max-inflight-bytes", "65536")
    a, b = new_id(), new_id()
    api.create_accounts(accounts(a, b))
    ids = [new_id() for _ in range(1000)]
    r = api.post("/v1/transfers", [transfer(i, a, b, 1) for i in ids])  # about 130 kB
    envelope(r, 503, "overloaded")
    assert_not_applied(api, *ids)
    # The budget is given back: small requests still work.
    assert api.create_transfers([transfer(new_id(), a, b, 1)]) == ["ok"]


def test_connection_limit(start_server):
    server, api = start_server("--max-connections", "2")
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(2)]
    try:
        time.sleep(0.2)
        r = requests.get(server.url("/healthz"), headers={"Connection": "close"})
        envelope(r, 503, "too_many_connections")
        assert r.headers.get("Retry-After") == "1"
    finally:
        for s in idle:
            s.close()
    deadline = time.time() + 5
    while time.time() < deadline:
        if requests.get(server.url("/healthz")).status_code == 200:
            break
        time.sleep(0.05)
    assert requests.get(server.url("/healthz")).status_code == 200


def test_slow_client_is_disconnected(start_server):
    """slowloris: a client that never finishes its headers is dropped after
    the idle timeout."""
    server, api = start_server("--timeout-s", "1")
    s = socket.create_connection(("127.0.0.1", server.port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    s.settimeout(5)
    t0 = time.time()
    data = s.recv(100)
    assert data == b"" or b"408" in data or b"400" in data
    assert time.time() - t0 < 4
    s.close()


def test_trickled_body_is_dropped(start_server):
    """A body that arrives a byte at a time, each within the idle timeout,
    is still cut off by the whole-body timeout, and nothing is applied."""
    server, api = start_server("--timeout-s", "3", "--body-timeout-s", "1")
    a = new_id()
    body = ('[{"id":"%d","ledger":1,"code":1}]' % a).encode()
    s = socket.create_connection(("127.0.0.1", server.port))
    auth = api.session.headers["Authorization"]
    s.sendall(b"POST /v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Authorization: " + auth.encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(body))
    closed = False
    t0 = time.time()
    for i in range(len(body) - 1):
        try:
            s.sendall(body[i:i + 1])
        except OSError:
            closed = True
            break
        time.sleep(0.4)
        if time.time() - t0 > 6:
            break
    if not closed:
        s.settimeout(3)
        try:
            closed = s.recv(100) == b""
        except OSError:
            closed = True
    s.close()
    assert closed
    assert time.time() - t0 < 6
    assert api.get("/v1/accounts/%d" % a).status_code == 404


def test_queue_full_is_429_and_applies_nothing(start_server):
    import threading
    server, api = start_server("--queue-max", "1")
    a, b = new_id(), new_id()
    api.create_accounts(accounts(a, b))
    seen = {"429": [], "200": []}
    lock = threading.Lock()

    def client(n):
        s = requests.Session()
        s.headers.update(api.session.headers)
        for _ in range(n):
            t = new_id()
            r = s.post(server.url("/v1/transfers"), json=[transfer(t, a, b, 1)])
            with lock:
                if r.status_code == 429:
                    assert r.json()["error"]["code"] == "too_many_requests"
                    seen["429"].append(t)
                else:
                    assert r.status_code == 200, r.text
                    seen["200"].append(t)

    for _ in range(5):
        threads = [threading.Thread(target=client, args=(20,)) for _ in range(16)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        if seen["429"]:
            break
    assert seen["429"], "no request was refused with a queue of 1"
    assert_not_applied(api, *seen["429"][:8190])
    assert api.account(b)["credits_posted"] == str(len(seen["200"]))
