"""Memory amplification: bodies that are cheap to send and expensive to parse
("[{},{},…]", 3 bytes of text and ~200 bytes of jansson tree per element)
are refused within the HTTP core's JSON budget (docs/http.md, "Memory"), so
the server's peak RSS stays bounded however many arrive at once.

Before the budget, four 16 MiB bodies at once took the server past 4 GiB.
Now each request's JSON may hold at most 48 MiB and all requests' JSON
256 MiB, bodies 256 MiB; four 16 MiB bodies (64 MiB) each stopped at 48 MiB
of tree stay far below the 400 MiB asserted here.
"""
import os
import threading

import requests

from conftest import create_key

BODY_MAX = 16 * 1024 * 1024
RSS_BOUND_KIB = 400 * 1024
CONCURRENT = 4


def empty_objects(prefix, suffix):
    """The largest body of "{}," elements within the default body limit."""
    n = (BODY_MAX - len(prefix) - len(suffix) - 2) // 3
    return (prefix + "{}," * n + "{}" + suffix).encode()


def peak_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM for %d" % pid)


def send_all(server, key, path, body, count):
    """Sends body `count` times at once; returns the responses."""
    results = [None] * count

    def one(i):
        r = requests.post(server.url(path), data=body, timeout=120,
                          headers={"Authorization": "Bearer " + key,
                                   "Content-Type": "application/json"})
        results[i] = r

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def assert_refused(responses):
    for r in responses:
        assert r is not None
        assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
        assert r.headers["Content-Type"].startswith("application/json")
        err = r.json()["error"]
        assert err["code"] == "too_complex", err
        assert err["message"]


def test_empty_object_floods_stay_within_the_budget(start_server):
    server, admin = start_server()
    ro = create_key(server.data_dir, "reader", "ledger:read")
    before = peak_rss_kib(server.proc.pid)
    batch = empty_objects("[", "]")
    creates = send_all(server, admin.session.headers["Authorization"][7:], "/v1/transfers", batch,
                       CONCURRENT)
    ids = empty_objects('{"ids":[', "]}")
    lookups = send_all(server, ro, "/v1/accounts/lookup", ids, CONCURRENT)
    peak = peak_rss_kib(server.proc.pid)
    print("peak RSS %d KiB (at start %d KiB)" % (peak, before))
    assert peak < RSS_BOUND_KIB, "peak RSS %d KiB" % peak
    assert_refused(creates)
    assert_refused(lookups)
    # The server still answers, and legitimate requests still work.
    r = admin.post("/v1/accounts", [{"id": "1", "ledger": 1, "code": 1}])
    assert r.status_code == 200, r.text


def test_server_wide_json_budget_refuses_with_503(start_server):
    """Past the server-wide JSON budget a request is 503 overloaded (retry),
    not 413 (its own size would be fine): the knob is max_json_bytes."""
    server, api = start_server("--max-json-bytes", "65536")
    small = [{"id": str(900000 + i), "ledger": 1, "code": 1} for i in range(2)]
    assert api.create_accounts(small) == ["ok", "ok"]
    big = [{"id": str(910000 + i), "ledger": 1, "code": 1} for i in range(2000)]
    r = api.post("/v1/accounts", big)
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "overloaded"
    assert r.headers.get("Retry-After") == "1"
    assert api.get("/v1/accounts/910000").status_code == 404  # nothing applied


def test_json_budget_knobs_are_checked(binary, tmp_dir):
    import subprocess
    r = subprocess.run([binary, "serve", "--data", tmp_dir, "--max-json-bytes", "10"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--max-json-bytes" in r.stderr
