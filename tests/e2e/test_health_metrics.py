"""Ledger health on /metrics, and /metrics behind a key (issue 10, "Health")."""
import re
import time

import requests

from conftest import accounts, new_id


def gauge(text, name):
    m = re.search(r"^%s (-?[0-9.]+)$" % re.escape(name), text, re.M)
    assert m, name
    return float(m.group(1))


def test_ledger_health_gauges(start_server):
    server, api = start_server()
    text = requests.get(server.url("/metrics")).text
    assert gauge(text, "quipu_ledger_stopped") == 0
    assert gauge(text, "quipu_ledger_journal_check") in (0, 1)
    assert gauge(text, "quipu_ledger_last_commit_age_seconds") == -1  # nothing committed yet
    api.create_accounts(accounts(new_id(), new_id()))
    deadline = time.time() + 10
    while time.time() < deadline:
        text = requests.get(server.url("/metrics")).text
        if gauge(text, "quipu_ledger_index_lag_batches") == 0:
            break
        time.sleep(0.1)
    assert gauge(text, "quipu_ledger_index_lag_batches") == 0
    assert gauge(text, "quipu_ledger_index_lag_seconds") == 0
    assert gauge(text, "quipu_ledger_index_lag_events") == 0
    assert gauge(text, "quipu_ledger_index_lag_max") == 4194304  # the default bound (4Mi changes)
    assert gauge(text, "quipu_ledger_index_waits_total") == 0
    audit = api.get("/v1/audit").json()
    assert audit["index_lag_events"] == "0" and audit["index_waits"] == "0"
    assert audit["index_lag_seconds"] == 0
    age = gauge(text, "quipu_ledger_last_commit_age_seconds")
    assert 0 <= age < 10
    assert gauge(text, "quipu_ledger_journal_check") == 1


def test_metrics_can_require_a_key(start_server):
    server, api = start_server("--metrics-key-required")
    r = requests.get(server.url("/metrics"))
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    r = api.get("/metrics")
    assert r.status_code == 200 and "quipu_http_requests_total" in r.text
    assert requests.get(server.url("/healthz")).status_code == 200  # health stays public
