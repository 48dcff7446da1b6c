"""`quipu node --home DIR`: the node runtime as an operator meets it.

The whole e2e suite also runs against `quipu node` (QUIPU_E2E_RUNNER=node);
these tests cover what only the node has: node.json and its errors, the
one data-directory lock, the module table in --help, serve and node
sharing a data directory, the periodic tick and clean shutdown.
"""
import json
import os
import re
import signal
import subprocess
import time

import requests

from conftest import QUIPU, accounts, create_key, new_id, quipu, transfer


def write_config(home, config):
    os.makedirs(home, exist_ok=True)
    with open(os.path.join(home, "node.json"), "w") as f:
        f.write(config if isinstance(config, str) else json.dumps(config))


def start_node(home, timeout=15):
    """Starts `quipu node` on home/node.json; returns (proc, port, log path)."""
    log_path = os.path.join(home, "node.log")
    log = open(log_path, "w")
    proc = subprocess.Popen([QUIPU, "node", "--home", home], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + timeout
    while time.time() < deadline:
        text = open(log_path).read()
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", text)
        if m:
            return proc, int(m.group(1)), log_path
        if proc.poll() is not None:
            raise RuntimeError("node exited %d:\n%s" % (proc.returncode, text))
        time.sleep(0.02)
    proc.kill()
    raise RuntimeError("node did not come up:\n" + open(log_path).read())


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=20)


def test_smallest_node_serves_the_ledger(tmp_dir):
    home = os.path.join(tmp_dir, "bank")
    write_config(home, {"listen": "127.0.0.1:0", "modules": {"ledger": {}}})
    key = create_key(home, "ops")
    proc, port, log = start_node(home)
    try:
        url = "http://127.0.0.1:%d" % port
        h = {"Authorization": "Bearer " + key}
        a, b = new_id(), new_id()
        r = requests.post(url + "/v1/accounts", json=accounts(a, b), headers=h)
        assert r.status_code == 200 and [x["result"] for x in r.json()["results"]] == ["ok", "ok"]
        r = requests.post(url + "/v1/transfers", json=[transfer(new_id(), a, b, 5)], headers=h)
        assert r.json()["results"][0]["result"] == "ok"
        assert requests.get(url + "/v1/accounts/%d" % b, headers=h).json()["credits_posted"] == "5"
        assert requests.get(url + "/healthz").json() == {"status": "ok"}
        assert os.path.exists(os.path.join(home, "ledger", "journal"))
        assert os.path.exists(os.path.join(home, "quipu.lock"))
    finally:
        assert stop(proc) == 0
    text = open(log).read()
    assert "modules: ledger" in text
    assert "module ledger closed" in text and "stopped cleanly" in text


def test_bad_node_json_names_the_key(tmp_dir):
    cases = [
        ({"listen": "127.0.0.1:0", "modules": {"ledger": {}}, "lisen": "x"}, "unknown key lisen"),
        ({"modules": {"ledger": {}}, "http": {"max_conections": 5}}, "http.max_conections"),
        ({"modules": {"ledger": {}}, "http": {"timeout_s": 0}}, "http.timeout_s must be an integer"),
        ({"modules": {"ledgr": {}}}, "unknown module modules.ledgr; known modules: ledger"),
        ({"modules": {"ledger": {"max_batch_events": 9000}}},
         "modules.ledger.max_batch_events must be an integer from 1 to 8190"),
        ({"modules": {"ledger": {"queue_size": 1}}}, "unknown key modules.ledger.queue_size"),
        ({"listen": "127.0.0.1:0"}, "modules is missing"),
        ('{"modules": {"ledger": {}},}', "not valid JSON"),
    ]
    for i, (config, want) in enumerate(cases):
        home = os.path.join(tmp_dir, "n%d" % i)
        write_config(home, config)
        r = subprocess.run([QUIPU, "node", "--home", home], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode in (1, 2), (config, r)
        assert want in r.stderr + r.stdout, (want, r.stderr, r.stdout)
        assert not os.path.exists(os.path.join(home, "ledger", "journal")) or i >= 4


def test_missing_node_json_and_missing_home(tmp_dir):
    r = quipu("node", "--home", os.path.join(tmp_dir, "nowhere"), check=False)
    assert r.returncode == 2
    assert "node.json" in r.stderr and "modules" in r.stderr
    r = quipu("node", check=False)
    assert r.returncode == 2 and "--home" in r.stderr


def test_help_lists_modules():
    r = quipu("node", "--help")
    assert "ledger" in r.stdout and "node.json" in r.stdout


def test_one_process_per_data_directory(tmp_dir):
    home = os.path.join(tmp_dir, "bank")
    write_config(home, {"listen": "127.0.0.1:0", "modules": {"ledger": {}}})
    proc, _, _ = start_node(home)
    try:
        r = subprocess.run([QUIPU, "node", "--home", home], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 1
        assert "locked" in (r.stdout + r.stderr)
        r = subprocess.run([QUIPU, "serve", "--data", home, "--listen", "127.0.0.1:0"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 1
    finally:
        assert stop(proc) == 0


def test_serve_and_node_share_a_data_directory(tmp_dir):
    data = os.path.join(tmp_dir, "bank")
    key = create_key(data, "ops")
    proc = subprocess.Popen([QUIPU, "serve", "--data", data, "--listen", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = ""
    while "listening on" not in line:
        line = proc.stdout.readline()
        assert line, "serve exited"
    port = int(re.search(r":(\d+) ", line).group(1))
    a, b = new_id(), new_id()
    h = {"Authorization": "Bearer " + key}
    requests.post("http://127.0.0.1:%d/v1/accounts" % port, json=accounts(a, b), headers=h)
    requests.post("http://127.0.0.1:%d/v1/transfers" % port, json=[transfer(new_id(), a, b, 7)],
                  headers=h)
    assert stop(proc) == 0
    write_config(data, {"listen": "127.0.0.1:0", "modules": {"ledger": {}}})
    proc, port, _ = start_node(data)
    try:
        r = requests.get("http://127.0.0.1:%d/v1/accounts/%d" % (port, b), headers=h)
        assert r.status_code == 200 and r.json()["credits_posted"] == "7"
    finally:
        assert stop(proc) == 0
    assert "result:    OK" in quipu("verify", "--data", data).stdout


def test_tick_expires_pending_transfers_without_traffic(tmp_dir):
    home = os.path.join(tmp_dir, "bank")
    write_config(home, {"listen": "127.0.0.1:0", "modules": {"ledger": {}}})
    key = create_key(home, "ops")
    proc, port, _ = start_node(home)
    try:
        url = "http://127.0.0.1:%d" % port
        h = {"Authorization": "Bearer " + key}
        a, b, t = new_id(), new_id(), new_id()
        requests.post(url + "/v1/accounts", json=accounts(a, b), headers=h)
        r = requests.post(url + "/v1/transfers",
                          json=[transfer(t, a, b, 9, flags=["pending"], timeout=1)], headers=h)
        assert r.json()["results"][0]["result"] == "ok"
        deadline = time.time() + 10
        while time.time() < deadline:
            acct = requests.get(url + "/v1/accounts/%d" % a, headers=h).json()
            if acct["debits_pending"] == "0":
                break
            time.sleep(0.2)
        assert acct["debits_pending"] == "0"
        assert requests.get(url + "/v1/transfers/%d" % t, headers=h).json()["pending_state"] == \
            "expired"
        metrics = requests.get(url + "/metrics").text
        assert re.search(r"^quipu_expiry_sweeps_total [1-9]", metrics, re.M)
    finally:
        assert stop(proc) == 0


def test_unknown_scope_is_refused_with_the_known_ones(tmp_dir):
    r = quipu("keys", "create", "--data", tmp_dir, "--name", "x", "--scope", "ledger:read,ledgr:write",
              check=False)
    assert r.returncode == 2
    assert "ledgr:write" in r.stderr
    assert "admin" in r.stderr and "ledger:read" in r.stderr and "ledger:write" in r.stderr
    assert r.stdout == ""


def test_metrics_per_route_histograms(api, server):
    api.get("/v1/audit")
    text = requests.get(server.url("/metrics")).text
    assert re.search(r'^quipu_http_request_duration_seconds_count\{method="GET",route="/v1/audit"\} [1-9]',
                     text, re.M)
    assert 'quipu_http_requests_total{method="GET",route="/v1/audit",status="200"}' in text
