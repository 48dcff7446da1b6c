"""End-to-end fixtures: the real `quipu` binary on a free loopback port.

`Server` starts `quipu serve` in a temporary data directory (port 0, so the
kernel picks a free port, read back from the startup log line), waits for
/healthz, and stops it with SIGTERM (or kill -9 for crash tests).  Keys are
made with the real `quipu keys create`.

With QUIPU_E2E_RUNNER=node the same suite runs against `quipu node --home
DIR`: the server's flags become the equivalent node.json, written into the
data directory, which is the node home (`make e2e` runs the suite both ways).
"""
import itertools
import json
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUIPU = os.environ.get("QUIPU_BIN", os.path.join(ROOT, "build", "quipu"))

RW = "ledger:read,ledger:write"
RUNNER = os.environ.get("QUIPU_E2E_RUNNER", "serve")

# `quipu serve` flags -> (section, key, type) in node.json.
NODE_KEYS = {
    "--max-body-bytes": ("http", "max_body_bytes", int),
    "--max-inflight-bytes": ("http", "max_inflight_bytes", int),
    "--max-connections": ("http", "max_connections", int),
    "--timeout-s": ("http", "timeout_s", int),
    "--body-timeout-s": ("http", "body_timeout_s", int),
    "--shutdown-grace-ms": ("http", "shutdown_grace_ms", int),
    "--head-timeout-s": ("http", "head_timeout_s", int),
    "--max-json-request-bytes": ("http", "max_json_request_bytes", int),
    "--max-json-bytes": ("http", "max_json_bytes", int),
    "--max-connections-per-address": ("http", "max_connections_per_address", int),
    "--max-batch-events": ("ledger", "max_batch_events", int),
    "--queue-max": ("ledger", "queue_max", int),
    "--evict-after": ("ledger", "evict_after", int),
    "--tls-cert": ("http", "tls_cert", str),
    "--tls-key": ("http", "tls_key", str),
}
FLAGS = ("--insecure-no-auth", "--metrics-key-required", "--insecure-plaintext")


def node_config(extra):
    """The node.json equivalent to `quipu serve` with these flags."""
    http, ledger, rest, listen = {}, {}, list(extra), "127.0.0.1:0"
    while rest:
        flag = rest.pop(0)
        if flag in FLAGS:
            http[flag[2:].replace("-", "_")] = True
            continue
        if flag == "--listen":
            listen = rest.pop(0)
            continue
        section, key, kind = NODE_KEYS[flag]
        (http if section == "http" else ledger)[key] = kind(rest.pop(0))
    config = {"listen": listen, "modules": {"ledger": ledger}}
    if http:
        config["http"] = http
    return config


def quipu(*args, check=True, **kw):
    """Runs the binary and returns the CompletedProcess (text mode)."""
    return subprocess.run([QUIPU, *args], capture_output=True, text=True, check=check, timeout=60, **kw)


def create_key(data_dir, name, scopes=RW):
    out = quipu("keys", "create", "--data", data_dir, "--name", name, "--scope", scopes)
    key = out.stdout.strip()
    assert key.startswith("qpk_"), out
    return key


class Server:
    """One `quipu serve` process on a data directory.  With --tls-cert it
    speaks https, and that (self-signed) certificate is what clients trust.
    A later --listen in extra overrides the loopback address."""

    def __init__(self, data_dir, *extra):
        self.data_dir = data_dir
        self.extra = list(extra)
        self.proc = None
        self.port = None
        self.scheme = "http"
        self.cacert = None
        if "--tls-cert" in self.extra:
            self.cacert = self.extra[self.extra.index("--tls-cert") + 1]
        self.log_path = None
        self.starts = 0

    def start(self, timeout=15):
        self.starts += 1
        self.log_path = os.path.join(os.path.dirname(self.data_dir), "serve-%d.log" % self.starts)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("quipu serve exited %d:\n%s" % (self.proc.returncode, self.read_log()))
            m = re.search(r"listening on (https?)://(?:127\.0\.0\.1|0\.0\.0\.0):(\d+)",
                          self.read_log())
            if m:
                self.scheme, self.port = m.group(1), int(m.group(2))
                r = requests.get(self.url("/healthz"), timeout=5, verify=self.cacert or True)
                if r.status_code == 200:
                    return self
            time.sleep(0.02)
        raise RuntimeError("quipu serve did not come up:\n" + self.read_log())

    def command(self):
        if RUNNER != "node":
            return [QUIPU, "serve", "--data", self.data_dir, "--listen", "127.0.0.1:0", *self.extra]
        os.makedirs(self.data_dir, exist_ok=True)
        with open(os.path.join(self.data_dir, "node.json"), "w") as f:
            json.dump(node_config(self.extra), f)
        return [QUIPU, "node", "--home", self.data_dir]

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def url(self, path):
        return "%s://127.0.0.1:%d%s" % (self.scheme, self.port, path)

    def stop(self, timeout=20):
        """SIGTERM; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        self.log.close()
        return rc

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()


class Api:
    """A keep-alive HTTP client with one key."""

    def __init__(self, server, key):
        self.server = server
        self.session = requests.Session()
        if server.cacert is not None:
            self.session.verify = server.cacert
        if key is not None:
            self.session.headers["Authorization"] = "Bearer " + key

    def get(self, path, **kw):
        return self.session.get(self.server.url(path), timeout=30, **kw)

    def post(self, path, body=None, **kw):
        return self.session.post(self.server.url(path), json=body, timeout=60, **kw)

    def create_accounts(self, accounts):
        r = self.post("/v1/accounts", accounts)
        assert r.status_code == 200, r.text
        return [row["result"] for row in r.json()["results"]]

    def create_transfers(self, transfers):
        r = self.post("/v1/transfers", transfers)
        assert r.status_code == 200, r.text
        return [row["result"] for row in r.json()["results"]]

    def account(self, id_):
        r = self.get("/v1/accounts/%s" % id_)
        assert r.status_code == 200, r.text
        return r.json()

    def transfer(self, id_):
        r = self.get("/v1/transfers/%s" % id_)
        assert r.status_code == 200, r.text
        return r.json()

    def audit(self):
        r = self.get("/v1/audit")
        assert r.status_code == 200, r.text
        return r.json()


_ids = itertools.count(random.randrange(1, 1 << 40) << 20)


def new_id():
    """A fresh id, unique across the session's tests."""
    return next(_ids)


@pytest.fixture(scope="session")
def binary():
    if not os.access(QUIPU, os.X_OK):
        pytest.fail("no binary at %s: run `make` first" % QUIPU)
    return QUIPU


@pytest.fixture
def tmp_dir():
    d = tempfile.mkdtemp(prefix="quipu-e2e-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def shared(binary):
    """One server for the tests that only need a ledger; keys for each scope."""
    d = tempfile.mkdtemp(prefix="quipu-e2e-shared-")
    data = os.path.join(d, "data")
    keys = {
        "rw": create_key(data, "rw"),
        "ro": create_key(data, "ro", "ledger:read"),
        "wo": create_key(data, "wo", "ledger:write"),
        "admin": create_key(data, "admin", "admin"),
    }
    server = Server(data).start()
    yield server, keys
    rc = server.stop()
    shutil.rmtree(d, ignore_errors=True)
    assert rc == 0


@pytest.fixture
def server(shared):
    return shared[0]


@pytest.fixture
def keys(shared):
    return shared[1]


@pytest.fixture
def api(shared):
    return Api(shared[0], shared[1]["rw"])


@pytest.fixture
def start_server(tmp_dir):
    """Factory: a private server (own data dir, extra flags) and an admin key."""
    started = []

    def start(*extra):
        data = os.path.join(tmp_dir, "data%d" % len(started))
        key = create_key(data, "admin", "admin")
        s = Server(data, *extra).start()
        started.append(s)
        return s, Api(s, key)

    yield start
    for s in started:
        if s.proc is not None and s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()


def accounts(*ids, ledger=1, code=1, flags=()):
    return [{"id": str(i), "ledger": ledger, "code": code, "flags": list(flags)} for i in ids]


def transfer(id_, debit, credit, amount, ledger=1, code=1, flags=(), **extra):
    t = {"id": str(id_), "debit_account_id": str(debit), "credit_account_id": str(credit),
         "amount": str(amount), "ledger": ledger, "code": code, "flags": list(flags)}
    t.update(extra)
    return t
