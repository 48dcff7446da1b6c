"""Rate limits per (API key, scope), node.json http.rate_limits (docs/http.md),
against the real binary: with a low limit on payments:write, POST /v1/orders
bursts then answers 429 rate_limited with Retry-After and the limit in the
message, and the refused order is not created; the same key's requests of
another scope (payments:read, ledger:read) go on; another key keeps its own
bucket; the bucket refills; the refusals are counted in /metrics; and bad
settings stop the node with a message naming the key."""
import json
import os
import re
import subprocess
import time

import requests

from conftest import QUIPU, create_key, new_id
from test_payments import LEDGER, PayNode, code, wait_key

RATE, BURST = 1, 3  # payments:write: 3 at once, then 1 a second


class LimitedNode(PayNode):
    """PayNode whose node.json also limits payments:write per key."""

    def __init__(self, home):
        super().__init__(home)
        with open(os.path.join(home, "node.json")) as f:
            config = json.load(f)
        config["http"] = {"rate_limits": {"payments:write": {"rate_per_s": RATE,
                                                             "burst": BURST}}}
        with open(os.path.join(home, "node.json"), "w") as f:
            json.dump(config, f)


def order_body(merchant):
    return {"merchant_id": merchant["id"], "amount": "100", "ledger": LEDGER, "currency": "USD"}


def burst_until_429(node, key, merchant, tries=3 * BURST):
    """POSTs orders until one is refused: the ids made and the 429."""
    made = []
    for _ in range(tries):
        r = node.call("POST", "/v1/orders", order_body(merchant), key=key)
        if r.status_code == 429:
            return made, r
        assert r.status_code == 200, r.text
        made.append(r.json()["id"])
    raise AssertionError("no 429 after %d orders" % tries)


def test_scope_limit_bursts_then_429(tmp_dir):
    node = LimitedNode(os.path.join(tmp_dir, "home")).start()
    try:
        merchant = node.merchant()  # the admin key: its own payments:write bucket
        scopes = "payments:write,payments:read,ledger:read"
        writer = wait_key(node, create_key(node.home, "writer", scopes))
        other = wait_key(node, create_key(node.home, "other", scopes))
        made, r = burst_until_429(node, writer, merchant)
        # The burst, plus at most what refilled while it ran.
        assert BURST <= len(made) <= BURST + 2, made
        assert code(r) == "rate_limited", r.text
        assert r.headers["Retry-After"] == "1"  # one token at 1 a second
        message = r.json()["error"]["message"]
        assert "payments:write" in message and "1 requests a second" in message, message
        assert "3 at once" in message, message
        # The refused order was not created; reads (payments:read) still work.
        listed = node.call("GET", "/v1/orders?limit=500", key=writer)
        assert listed.status_code == 200, listed.text
        ids = {o["id"] for o in listed.json()["data"]}
        assert set(made) <= ids and len(ids) == len(made)
        # Another scope of the same key: not limited.
        for _ in range(2 * BURST):
            assert node.call("GET", "/v1/orders/" + made[0], key=writer).status_code == 200
            assert node.call("GET", "/v1/accounts/" + merchant["settlement_account_id"],
                             key=writer).status_code == 200
        # Another key: its own bucket, full.
        for _ in range(BURST):
            r = node.call("POST", "/v1/orders", order_body(merchant), key=other)
            assert r.status_code == 200, r.text
        # The writer's bucket refills at RATE a second.
        time.sleep(1.2)
        r = node.call("POST", "/v1/orders", order_body(merchant), key=writer)
        assert r.status_code == 200, r.text
        metrics = requests.get("http://127.0.0.1:%d/metrics" % node.port).text
        m = re.search(r'^quipu_http_scope_rate_limited_total\{scope="payments:write"\} (\d+)$',
                      metrics, re.M)
        assert m and int(m.group(1)) >= 1, metrics
    finally:
        node.stop()


def test_limit_on_a_route_that_names_its_scope(tmp_dir):
    """POST /v1/merchants names payments:write in the route table: the core
    charges it, once, even though the handler asks again."""
    node = LimitedNode(os.path.join(tmp_dir, "home")).start()
    try:
        key = wait_key(node, create_key(node.home, "w", "payments:write,ledger:write"))
        answers = []
        for _ in range(BURST + 1):
            account = new_id()
            node.accounts(account)
            body = {"name": "Shop", "settlement_account_id": str(account), "ledger": LEDGER,
                    "currency": "USD"}
            answers.append(node.call("POST", "/v1/merchants", body, key=key))
        assert [a.status_code for a in answers[:BURST]] == [200] * BURST, answers[-1].text
        assert answers[BURST].status_code == 429 and code(answers[BURST]) == "rate_limited"
        assert int(answers[BURST].headers["Retry-After"]) >= 1
    finally:
        node.stop()


def test_bad_settings_name_the_key(tmp_dir):
    home = os.path.join(tmp_dir, "bad")
    os.makedirs(home)
    cases = (
        ({"payments:wrte": {"rate_per_s": 1}}, "http.rate_limits.payments:wrte"),
        ({"payments:write": {"rate_per_s": 0}}, "http.rate_limits.payments:write.rate_per_s"),
        ({"payments:write": {"rate_per_s": 5, "burst": 2000000}},
         "http.rate_limits.payments:write.burst"),
        ({"payments:write": {"rate": 5}}, "http.rate_limits.payments:write.rate"),
        ({"payments:write": 5}, "http.rate_limits.payments:write"),
        ([], "http.rate_limits"),
    )
    for limits, want in cases:
        with open(os.path.join(home, "node.json"), "w") as f:
            json.dump({"listen": "127.0.0.1:0", "http": {"rate_limits": limits},
                       "modules": {"ledger": {}, "auth": {}, "payments": {}}}, f)
        r = subprocess.run([QUIPU, "node", "--home", home], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode != 0 and want in r.stdout + r.stderr, (limits, r.stderr)


class PublicLimitedNode(PayNode):
    """PayNode whose routes without a key are limited per client address."""

    def __init__(self, home, limit):
        super().__init__(home)
        with open(os.path.join(home, "node.json")) as f:
            config = json.load(f)
        config["http"] = {"public_rate_limit": limit}
        with open(os.path.join(home, "node.json"), "w") as f:
            json.dump(config, f)


def test_routes_without_a_key_are_limited_per_address(tmp_dir):
    """The operator sign-in options need no key: 3 at once, then 429 with
    Retry-After and the limit in the message, counted in /metrics; /healthz and
    keyed routes are not charged; the bucket refills."""
    node = PublicLimitedNode(os.path.join(tmp_dir, "home"),
                             {"rate_per_s": RATE, "burst": BURST}).start()
    try:
        url = "http://127.0.0.1:%d/v1/operators/login/options" % node.port
        codes = [requests.post(url, json={}, timeout=10).status_code for _ in range(BURST + 3)]
        assert codes[:BURST] == [200] * BURST, codes
        assert 429 in codes[BURST:], codes
        r = requests.post(url, json={}, timeout=10)
        assert r.status_code == 429, r.text
        assert r.json()["error"]["code"] == "rate_limited" and int(r.headers["Retry-After"]) >= 1
        assert "1 requests a second" in r.json()["error"]["message"], r.text
        for _ in range(10):  # monitors and keyed callers are not charged
            assert requests.get("http://127.0.0.1:%d/healthz" % node.port,
                                timeout=10).status_code == 200
            assert node.call("GET", "/v1/audit").status_code == 200
        metrics = node.call("GET", "/metrics").text
        refused = int(re.search(r"quipu_http_public_rate_limited_total (\d+)", metrics).group(1))
        assert refused >= 2, metrics
        time.sleep(1.2)  # one token back
        assert requests.post(url, json={}, timeout=10).status_code == 200
    finally:
        node.stop()


def test_bad_public_limit_names_the_key(tmp_dir):
    home = os.path.join(tmp_dir, "badpublic")
    os.makedirs(home)
    for limit in ({"rate_per_s": 0}, {"rate_per_s": 5, "burst": 2000000}, {"rate": 5}, 5, {}):
        with open(os.path.join(home, "node.json"), "w") as f:
            json.dump({"listen": "127.0.0.1:0", "http": {"public_rate_limit": limit},
                       "modules": {"ledger": {}}}, f)
        r = subprocess.run([QUIPU, "node", "--home", home], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode != 0 and "http.public_rate_limit" in r.stdout + r.stderr, (limit,
                                                                                      r.stderr)
