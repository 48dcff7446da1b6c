"""The server as a process: one per data directory, clean exit on SIGTERM
under load without losing anything acknowledged, and kill -9 mid-stream
loses nothing acknowledged either (every 200 is on disk), with
`quipu verify` passing after each restart."""
import os
import random
import subprocess
import threading
import time

import requests

from conftest import QUIPU, Api, Server, accounts, create_key, new_id, quipu, transfer


def test_second_server_on_same_data_dir_refuses(start_server):
    server, api = start_server()
    r = subprocess.run([QUIPU, "serve", "--data", server.data_dir, "--listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1
    assert "in use by another quipu process" in r.stderr
    assert requests.get(server.url("/healthz")).status_code == 200


def test_listen_errors(tmp_dir):
    data = os.path.join(tmp_dir, "d")
    for listen in ["nonsense", "127.0.0.1:", "256.1.1.1:80", "127.0.0.1:99999"]:
        r = subprocess.run([QUIPU, "serve", "--data", data, "--listen", listen],
                           capture_output=True, text=True, timeout=20)
        assert r.returncode != 0, listen
    r = subprocess.run([QUIPU, "serve", "--data", data, "--max-batch-events", "9000"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 2


class Streamer(threading.Thread):
    """Sends batches of transfers between two accounts until stopped or the
    server goes away; sorts every transfer id by what the server said."""

    def __init__(self, server, key, debit, credit, batch=20):
        super().__init__(daemon=True)
        self.url = server.url("/v1/transfers")
        self.session = requests.Session()
        self.session.headers["Authorization"] = "Bearer " + key
        self.debit, self.credit, self.batch = debit, credit, batch
        self.acked, self.refused, self.in_doubt = [], [], []
        self.stop_flag = False

    def run(self):
        while not self.stop_flag:
            ids = [new_id() for _ in range(self.batch)]
            body = [transfer(i, self.debit, self.credit, 1) for i in ids]
            try:
                r = self.session.post(self.url, json=body, timeout=30)
            except requests.RequestException:
                self.in_doubt.append(ids)
                return
            if r.status_code == 200:
                assert [x["result"] for x in r.json()["results"]] == ["ok"] * len(ids), r.text
                self.acked += ids
            elif r.status_code == 503:
                assert r.json()["error"]["code"] == "shutting_down", r.text
                self.refused += ids
            else:
                raise AssertionError(r.text)


def present(api, ids):
    found = set()
    for i in range(0, len(ids), 8190):
        r = api.post("/v1/transfers/lookup", {"ids": [str(x) for x in ids[i:i + 8190]]})
        assert r.status_code == 200
        found |= {int(t["id"]) for t in r.json()["transfers"]}
    return found


def check_after_restart(api, streamers, pair, previously_present):
    """Every acknowledged transfer is there; each in-doubt batch is there
    whole or not at all; refused ones are absent; balances and the audit
    agree with exactly that set."""
    acked = [i for s in streamers for i in s.acked]
    assert present(api, acked) == set(acked)
    refused = [i for s in streamers for i in s.refused]
    assert present(api, refused) == set()
    total = len(acked)
    for s in streamers:
        for batch in s.in_doubt:
            n = len(present(api, batch))
            assert n in (0, len(batch)), "a batch was applied in part"
            total += n
    expected = previously_present + total
    debit = api.account(pair[0])
    assert int(debit["debits_posted"]) == expected
    assert int(api.account(pair[1])["credits_posted"]) == expected
    audit = api.audit()
    assert audit["invariant_ok"] is True
    return expected


def verify(data_dir):
    r = quipu("verify", "--data", data_dir, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "result:    OK" in r.stdout


def test_kill_9_mid_stream_loses_nothing_acknowledged(tmp_dir):
    data = os.path.join(tmp_dir, "data")
    key = create_key(data, "w")
    server = Server(data).start()
    api = Api(server, key)
    pair = (new_id(), new_id())
    assert api.create_accounts(accounts(*pair)) == ["ok", "ok"]
    moved = 0
    rng = random.Random(7)
    for round_ in range(5):
        if round_ > 0:
            server.start()
        streamers = [Streamer(server, key, *pair, batch=rng.choice([1, 5, 50])) for _ in range(4)]
        for s in streamers:
            s.start()
        time.sleep(rng.uniform(0.3, 0.8))
        server.kill9()
        for s in streamers:
            s.join(timeout=30)
        assert sum(len(s.acked) for s in streamers) > 0, "nothing was acknowledged before the kill"
        server.start()
        assert "listening" in server.read_log()
        moved = check_after_restart(api, streamers, pair, moved)
        assert server.stop() == 0
        verify(data)


def test_graceful_shutdown_under_load(tmp_dir):
    data = os.path.join(tmp_dir, "data")
    key = create_key(data, "w")
    server = Server(data).start()
    api = Api(server, key)
    pair = (new_id(), new_id())
    api.create_accounts(accounts(*pair))
    streamers = [Streamer(server, key, *pair, batch=10) for _ in range(8)]
    for s in streamers:
        s.start()
    time.sleep(0.7)
    rc = server.stop()
    for s in streamers:
        s.stop_flag = True
        s.join(timeout=30)
    assert rc == 0
    log = server.read_log()
    assert "SIGTERM received" in log and "stopped cleanly" in log
    assert sum(len(s.acked) for s in streamers) > 0
    verify(data)
    server.start()
    check_after_restart(api, streamers, pair, 0)
    assert server.stop() == 0
