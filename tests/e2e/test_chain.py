"""The consortium chain end to end: a real 4-validator network on loopback
(`quipu chain init`, four `quipu node` processes), driven with the real
`quipu chain send` and `quipu chain query` (docs/chain.md).

Transactions are signed by the CLI (Python has no Ed25519 here); bulk load
uses `chain send --count N`, which signs N transactions with consecutive
nonces and submits them without waiting, and tampered or foreign
transactions start from `chain send --dry-run`, which prints the signed
hex instead of submitting it.

Runs once: `make e2e` runs the suite twice (QUIPU_E2E_RUNNER=serve, then
node) to check `quipu serve` and `quipu node` against the same ledger
tests, but these tests start their own network and do not depend on the
runner, so they only run in the node pass.
"""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import requests

from conftest import QUIPU, RUNNER, quipu

pytestmark = pytest.mark.skipif(
    RUNNER != "node", reason="starts its own chain network: runs once, in the node pass")

VALIDATORS = 4
WAIT_S = 30  # the most any single wait below may take


def free_base(count):
    """A base port P with P..P+count-1 free on loopback (chain init puts node
    i's HTTP on P+2i and its peer listener on P+2i+1). Drawn below Linux's
    ephemeral range (32768+) so no outgoing connection can take them later."""
    for _ in range(200):
        base = random.randrange(20000, 32768 - count)
        socks = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", port))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range")


def wait_for(what, predicate, timeout=WAIT_S, interval=0.1):
    """Polls predicate() until it returns a true value; fails after timeout."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = predicate()
        except requests.RequestException as e:
            last = e
            if not isinstance(e, (requests.ConnectionError, requests.Timeout)):
                raise
        else:
            if last:
                return last
        time.sleep(interval)
    pytest.fail("timed out after %ss waiting for %s (last: %r)" % (timeout, what, last))


class Network:
    """A local network made by `quipu chain init`, each node its own process."""

    def __init__(self, root, validators=VALIDATORS, crypto="ed25519", name="net"):
        self.dir = os.path.join(root, name)
        self.base = free_base(2 * validators)
        self.count = validators
        quipu("chain", "init", "--validators", str(validators), "--dir", self.dir,
              "--base-port", str(self.base), "--crypto", crypto)
        self.procs = [None] * validators
        self.logs = [None] * validators
        self.session = requests.Session()

    def home(self, i):
        return os.path.join(self.dir, "node%d" % i)

    def url(self, i, path=""):
        return "http://127.0.0.1:%d%s" % (self.base + 2 * i, path)

    def start(self, i):
        self.logs[i] = open(os.path.join(self.home(i), "node.log"), "a")
        self.procs[i] = subprocess.Popen([QUIPU, "node", "--home", self.home(i)],
                                         stdout=self.logs[i], stderr=subprocess.STDOUT)

    def wait_healthy(self, indices):
        for i in indices:
            def healthy(i=i):
                if self.procs[i].poll() is not None:
                    pytest.fail("node%d exited %d:\n%s" % (i, self.procs[i].returncode,
                                                           self.log_tail(i)))
                return self.session.get(self.url(i, "/healthz"), timeout=2).status_code == 200
            wait_for("node%d /healthz" % i, healthy)

    def log_tail(self, i):
        with open(os.path.join(self.home(i), "node.log")) as f:
            return "".join(f.readlines()[-20:])

    def kill9(self, i):
        self.procs[i].kill()
        self.procs[i].wait()
        self.logs[i].close()

    def stop_all(self):
        codes = {}
        for i, p in enumerate(self.procs):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for i, p in enumerate(self.procs):
            if p is None:
                continue
            try:
                codes[i] = p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                codes[i] = p.wait()
            self.logs[i].close()
        return codes

    def get(self, i, path, timeout=5):
        return self.session.get(self.url(i, path), timeout=timeout)

    def status(self, i):
        r = self.get(i, "/v1/chain/status")
        assert r.status_code == 200, r.text
        return r.json()

    def agree(self, indices, min_height):
        """Waits until the nodes report the same height (>= min_height), head
        hash and state root; returns that status."""
        def same():
            s = [self.status(i) for i in indices]
            keys = {(x["height"], x["head_hash"], x["state_root"]) for x in s}
            return s[0] if len(keys) == 1 and s[0]["height"] >= min_height else None
        return wait_for("nodes %s to agree at height >= %d" % (indices, min_height), same)

    def post_tx(self, i, hex_tx):
        return self.session.post(self.url(i, "/v1/chain/txs"), json={"tx": hex_tx}, timeout=10)


def started_network(prefix, **kw):
    """A fresh network under a temp dir named by prefix, every node up and
    healthy; n.root is the temp dir (the caller removes it)."""
    root = tempfile.mkdtemp(prefix=prefix)
    n = Network(root, **kw)
    for i in range(n.count):
        n.start(i)
    n.wait_healthy(range(n.count))
    n.root = root
    return n


def keygen(path, crypto="ed25519"):
    out = quipu("chain", "keygen", "--out", path, "--crypto", crypto)
    return out.stdout.strip()


def send(net, i, key, args, *extra, app="kv", method="put"):
    """`quipu chain send` to node i; returns the CompletedProcess."""
    return quipu("chain", "send", "--node", net.url(i), "--key", key, "--app", app,
                 "--method", method, "--args", json.dumps(args), *extra, check=False)


def query(net, i, key_name):
    return quipu("chain", "query", "--node", net.url(i), "--app", "kv", "--method", "get",
                 "--args", json.dumps({"key": key_name}), check=False)


@pytest.fixture(scope="module")
def net(binary):
    root = tempfile.mkdtemp(prefix="quipu-e2e-chain-")
    n = Network(root)
    for i in range(n.count):
        n.start(i)
    n.wait_healthy(range(n.count))
    n.clients = [os.path.join(root, "client%d.key" % j) for j in range(4)]
    n.client_pubs = [keygen(k) for k in n.clients]
    yield n
    codes = n.stop_all()
    shutil.rmtree(root, ignore_errors=True)
    assert all(c == 0 for c in codes.values()), codes


def test_200_puts_from_4_clients_agree_on_every_node(net):
    # A few with --wait: exit 0 and the receipt on stdout.
    for j in range(4):
        r = send(net, j, net.clients[j], {"key": "c%d-first" % j, "value": "hello"}, "--wait")
        assert r.returncode == 0, r.stderr
        receipt = json.loads(r.stdout)
        assert list(receipt) == ["height", "tx", "status", "code", "result", "events"], receipt
        assert receipt["status"] == "ok" and receipt["code"] == "ok", receipt
        assert receipt["result"] == {"key": "c%d-first" % j, "created": True}
        assert receipt["events"] == [{"type": "kv.put", "key": "c%d-first" % j}]
    # The bulk: 4 clients x 49 at once, each through another node.
    procs = []
    for j in range(4):
        args = json.dumps({"key": "c%d-k{i}" % j, "value": "v%d-{i}" % j})
        procs.append(subprocess.Popen(
            [QUIPU, "chain", "send", "--node", net.url(j), "--key", net.clients[j], "--app", "kv",
             "--method", "put", "--args", args, "--count", "49"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    hashes = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        lines = out.split()
        assert len(lines) == 49 and all(len(h) == 64 for h in lines), out
        hashes += lines
    assert len(set(hashes)) == 196
    # Every transaction committed with an ok receipt, on every node.
    heights = []
    for h in hashes:
        r = wait_for("tx %s committed" % h,
                     lambda h=h: (lambda r: r if r.status_code == 200 else None)(
                         net.get(0, "/v1/chain/txs/" + h)))
        heights.append(r.json()["height"])
    final = net.agree(range(4), max(heights))
    for i in range(4):
        for h in hashes:
            r = net.get(i, "/v1/chain/txs/" + h)
            assert r.status_code == 200, (i, h, r.text)
            assert r.json()["receipt"]["status"] == "ok", r.text
    # The same block at the head, not only the same head hash in the status.
    blocks = {net.get(i, "/v1/chain/blocks/%d" % final["height"]).json()["hash"] for i in range(4)}
    assert len(blocks) == 1 and final["mempool"]["count"] == 0, final
    # Queries on any node answer the committed values and owners.
    for j in range(4):
        r = query(net, (j + 1) % 4, "c%d-k7" % j)
        assert r.returncode == 0, r.stderr
        answer = json.loads(r.stdout)
        assert answer["result"] == {"key": "c%d-k7" % j, "value": "v%d-7" % j,
                                    "owner": net.client_pubs[j]}, answer
        assert answer["height"] >= max(heights)
    r = query(net, 0, "nobody-wrote-this")
    assert r.returncode == 1 and "not_found" in r.stderr, r


def test_10000_transactions_agree_on_every_node(net):
    """The issue's load: 10,000 signed puts from 8 fresh clients (1,250 each, consecutive
    nonces) spread over the 4 nodes at once. Each client's last transaction committing with an
    ok receipt means all of its earlier ones did (a nonce executes only after the one before
    it); every node then reports each client's committed nonce 1,250, and all four agree on
    height, head hash and state root; 200 receipts sampled on every node are ok."""
    import random
    keys = [os.path.join(os.path.dirname(net.clients[0]), "load%d.key" % j) for j in range(8)]
    pubs = [keygen(k) for k in keys]
    procs = []
    for j, key in enumerate(keys):
        args = json.dumps({"key": "load%d-{i}" % j, "value": "x{i}"})
        procs.append(subprocess.Popen(
            [QUIPU, "chain", "send", "--node", net.url(j % 4), "--key", key, "--app", "kv",
             "--method", "put", "--args", args, "--count", "1250", "--timeout", "120"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    per_client = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err[-2000:]
        lines = out.split()
        assert len(lines) == 1250, (len(lines), err[-500:])
        per_client.append(lines)
    assert len({h for lines in per_client for h in lines}) == 10000
    top = 0
    for lines in per_client:
        r = wait_for("last tx %s committed" % lines[-1],
                     lambda h=lines[-1]: (lambda r: r if r.status_code == 200 else None)(
                         net.get(0, "/v1/chain/txs/" + h)), timeout=120)
        assert r.json()["receipt"]["status"] == "ok", r.text
        top = max(top, r.json()["height"])
    net.agree(range(4), top)
    for i in range(4):
        for pub in pubs:
            r = net.get(i, "/v1/chain/nonce/" + pub)
            assert r.status_code == 200 and r.json()["committed_nonce"] == 1250, (i, r.text)
        for h in random.sample([h for lines in per_client for h in lines], 200):
            r = net.get(i, "/v1/chain/txs/" + h)
            assert r.status_code == 200 and r.json()["receipt"]["status"] == "ok", (i, r.text)
    # Vouching (docs/chain.md): every transaction is verified at its door, the frames
    # forwarded in bulk by their checkers too, and the other validators admit those on f + 1
    # vouches; nothing was refused. So the network verified fewer than 4 x 10,000 signatures.
    verified = vouched = 0
    for i in range(4):
        m = metric_values(net.get(i, "/metrics").text)
        assert m.get("quipu_chain_vouches_refused_total", -1) == 0, (i, m)
        verified += m["quipu_chain_signature_verifications_total"]
        vouched += m["quipu_chain_vouched_txs_total"]
    assert vouched > 0 and 10000 <= verified < 40000, (verified, vouched)
    assert verified + vouched >= 40000, (verified, vouched)
    # /metrics counts what the blocks carry (tx/s is the counter's rate): once the network is
    # quiet, every node's count is the transactions of blocks 1..height (no node of this
    # module's network has restarted yet), at least these 10,000.
    def quiet():
        s = net.agree(range(4), top)
        m = [metric_values(net.get(i, "/metrics").text) for i in range(4)]
        return (s, m) if all(x["quipu_chain_height"] == s["height"] for x in m) else None
    s, ms = wait_for("heights and metrics to settle", quiet)
    in_blocks = sum(len(net.get(0, "/v1/chain/blocks/%d" % h).json()["txs"])
                    for h in range(1, s["height"] + 1))
    assert in_blocks >= 10000, in_blocks
    for i, m in enumerate(ms):
        assert m["quipu_chain_txs_committed_total"] == in_blocks, (i, m, in_blocks)
        assert m["quipu_chain_view_changes_total"] >= 0, (i, m)


def metric_values(text):
    """Unlabelled samples of a Prometheus text page, by name."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, _, value = line.partition(" ")
            out[name] = float(value)
    return out


def test_kv_key_belongs_to_its_first_writer(net):
    r = send(net, 0, net.clients[0], {"key": "owned", "value": "mine"}, "--wait")
    assert r.returncode == 0, r.stderr
    r = send(net, 1, net.clients[1], {"key": "owned", "value": "theirs"}, "--wait")
    assert r.returncode == 1, (r.stdout, r.stderr)
    receipt = json.loads(r.stdout)
    assert receipt["status"] == "failed" and receipt["code"] == "not_owner", receipt
    assert receipt["events"] == []
    assert "not_owner" in r.stderr
    answer = json.loads(query(net, 2, "owned").stdout)
    assert answer["result"]["value"] == "mine" and answer["result"]["owner"] == net.client_pubs[0]


def test_bad_input_is_refused(net, tmp_dir):
    key = net.clients[2]
    nonce = net.get(0, "/v1/chain/nonce/" + net.client_pubs[2]).json()["next_nonce"]
    r = send(net, 0, key, {"key": "t", "value": "x"}, "--dry-run", "--nonce", str(nonce))
    assert r.returncode == 0, r.stderr
    good = r.stdout.strip()
    # A flipped byte in the signature, then in the args: refused, never admitted.
    for pos, codes in ((len(good) - 2, {"bad_signature"}),
                       (len(good) - 140, {"bad_signature", "tx_malformed"})):
        tampered = good[:pos] + ("0" if good[pos] != "0" else "1") + good[pos + 1:]
        r = net.post_tx(1, tampered)
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert err["code"] in codes and err["path"] == "tx", (pos, err)
    r = net.post_tx(1, good[:-20])  # truncated: the signature's length passes the end
    assert r.status_code == 400 and r.json()["error"]["code"] == "tx_malformed", r.text
    r = net.post_tx(1, "zz" + good[2:])  # not hex: the body itself is refused
    assert r.status_code == 400 and r.json()["error"]["path"] == "tx", r.text
    # A transaction signed for another network (a one-validator network of its own).
    other = Network(tmp_dir, validators=1)
    other.start(0)
    try:
        other.wait_healthy([0])
        r = quipu("chain", "send", "--node", other.url(0), "--key", key, "--app", "kv",
                  "--method", "put", "--args", '{"key":"t","value":"x"}', "--nonce", str(nonce),
                  "--dry-run")
        foreign = r.stdout.strip()
    finally:
        assert other.stop_all() == {0: 0}
    r = net.post_tx(0, foreign)
    assert r.status_code == 400 and r.json()["error"]["code"] == "wrong_chain", r.text
    # The good one goes in once; a replay of a committed nonce is refused.
    r = net.post_tx(2, good)
    assert r.status_code == 202, r.text
    h = r.json()["hash"]
    wait_for("tx committed", lambda: net.get(2, "/v1/chain/txs/" + h).status_code == 200)
    # Node 3 commits the block a moment later; until then the forwarded copy
    # waits in its mempool and a re-send there is a `duplicate`, not a replay.
    wait_for("tx committed on node 3",
             lambda: net.get(3, "/v1/chain/txs/" + h).status_code == 200)
    r = net.post_tx(3, good)
    assert r.status_code == 400 and r.json()["error"]["code"] == "nonce_used", r.text
    r = send(net, 3, key, {"key": "t", "value": "again"}, "--nonce", "1")
    assert r.returncode == 2 and "nonce_used" in r.stderr, (r.stdout, r.stderr)
    assert r.stdout == ""


def test_a_batch_is_admitted_item_by_item(net):
    """POST /v1/chain/txs with {"txs":[…]}: each transaction gets its own result in order
    (DESIGN.md §5); a malformed element refuses the whole batch and admits nothing; what a
    batch admitted is forwarded and commits on every node."""
    key, pub = net.clients[3], net.client_pubs[3]
    nonce = net.get(1, "/v1/chain/nonce/" + pub).json()["next_nonce"]

    def signed(k, value):
        r = send(net, 1, key, {"key": "batch-%d" % k, "value": value}, "--dry-run",
                 "--nonce", str(nonce + k))
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()
    txs = [signed(k, "v%d" % k) for k in range(3)]
    tampered = txs[1][:-2] + ("0" if txs[1][-2] != "0" else "1") + txs[1][-1]
    # Envelope errors: refused whole, with the element named; nothing admitted.
    r = net.session.post(net.url(1, "/v1/chain/txs"), json={"txs": [txs[0], "zz"]}, timeout=10)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["path"] == "txs[1]" and r.json()["error"]["code"] == "invalid_value"
    for body, code in (({"txs": []}, "batch_size"), ({"txs": "ab"}, "invalid_body"),
                       ({"tx": txs[0], "txs": [txs[0]]}, "invalid_body"),
                       ({"txs": [txs[0]] * 8191}, "batch_size")):
        r = net.session.post(net.url(1, "/v1/chain/txs"), json=body, timeout=10)
        assert r.status_code == 400 and r.json()["error"]["code"] == code, (body, r.text)
    # A well-formed batch: 200, one result per element, in order.
    r = net.session.post(net.url(1, "/v1/chain/txs"),
                         json={"txs": [txs[0], tampered, txs[2], txs[0], txs[1]]}, timeout=10)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["index"] for x in results] == [0, 1, 2, 3, 4]
    assert [x["result"] for x in results] == ["ok", "bad_signature", "ok", "duplicate", "ok"], \
        results
    assert results[0]["hash"] == results[3]["hash"] and "message" in results[1]
    assert "message" not in results[0]
    for x in (results[0], results[2], results[4]):
        for i in range(4):
            wait_for("batch tx committed on node %d" % i,
                     lambda i=i, h=x["hash"]: net.get(i, "/v1/chain/txs/" + h).status_code == 200)
    for i in range(4):
        r = net.get(i, "/v1/chain/nonce/" + pub)
        assert r.json()["committed_nonce"] == nonce + 2, (i, r.text)
        r = net.get(i, "/v1/chain/kv/batch-2")
        assert r.status_code == 200 and r.json()["value"] == "v2", (i, r.text)


def heights_agree(net, a, b):
    """The two nodes hold the same block at every height both have."""
    top = min(net.status(a)["height"], net.status(b)["height"])
    for height in range(1, top + 1):
        x = net.get(a, "/v1/chain/blocks/%d" % height).json()
        y = net.get(b, "/v1/chain/blocks/%d" % height).json()
        assert x["hash"] == y["hash"] and x["state_root"] == y["state_root"], (height, x, y)
    return top


def test_crashes_one_tolerated_two_stop_then_catch_up(net):
    key = net.clients[3]
    net.kill9(3)
    # Three of four validators are a quorum: commits go on.
    for n in range(3):
        r = send(net, n, key, {"key": "crash1-%d" % n, "value": "x"}, "--wait", "--timeout", "20")
        assert r.returncode == 0, r.stderr
    net.kill9(2)
    time.sleep(1)
    before = [net.status(i)["height"] for i in (0, 1)]
    r = send(net, 0, key, {"key": "stalled", "value": "x"})  # admitted, cannot commit
    assert r.returncode == 0, r.stderr
    stalled = r.stdout.strip()
    time.sleep(3)
    after = [net.status(i)["height"] for i in (0, 1)]
    assert after == before, (before, after)
    assert net.get(0, "/v1/chain/txs/" + stalled).status_code == 404
    heights_agree(net, 0, 1)
    # Both come back: the stalled transaction commits, they catch up, and a
    # new transaction commits everywhere.
    net.start(2)
    net.start(3)
    net.wait_healthy([2, 3])
    wait_for("the stalled tx committed",
             lambda: net.get(0, "/v1/chain/txs/" + stalled).status_code == 200)
    # Sent through node 0: a restarted node still catching up would answer a
    # stale next nonce (its own committed state), and the tx could never commit.
    r = send(net, 0, key, {"key": "after-restart", "value": "y"}, "--wait")
    assert r.returncode == 0, r.stderr
    height = json.loads(r.stdout)["height"]
    net.agree(range(4), height)
    for i in range(4):
        assert net.get(i, "/v1/chain/txs/" + stalled).status_code == 200, i
    r = send(net, 3, key, {"key": "via-restarted", "value": "z"}, "--wait")
    assert r.returncode == 0, r.stderr
    net.agree(range(4), json.loads(r.stdout)["height"])
    heights_agree(net, 0, 3)
    heights_agree(net, 1, 2)


def test_chain_up_runs_and_stops_a_network(tmp_dir):
    n = Network(tmp_dir)
    out_path = os.path.join(tmp_dir, "up.out")
    with open(out_path, "w") as out:
        up = subprocess.Popen([QUIPU, "chain", "up", "--dir", n.dir], stdout=out,
                              stderr=subprocess.STDOUT)
    try:
        def text():
            with open(out_path) as f:
                return f.read()
        wait_for("chain up's 'all 4 nodes up'", lambda: "all 4 nodes up" in text())
        for i in range(4):
            assert "node%d  %s" % (i, n.url(i)) in text()
            assert "node%d up: %s/healthz answered" % (i, n.url(i)) in text()
        key = os.path.join(tmp_dir, "c.key")
        keygen(key)
        r = send(n, 1, key, {"key": "up", "value": "1"}, "--wait")
        assert r.returncode == 0, r.stderr
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=30) == 0, text()
        assert all("node%d stopped" % i in text() for i in range(4)), text()
        # Again, and one node dies: chain up says which, stops the others, exits 1.
        with open(out_path, "w") as out:
            up = subprocess.Popen([QUIPU, "chain", "up", "--dir", n.dir], stdout=out,
                                  stderr=subprocess.STDOUT)
        wait_for("chain up's 'all 4 nodes up'", lambda: "all 4 nodes up" in text())
        pid = int(text().split("node2  ")[1].split("pid ")[1].split()[0])
        os.kill(pid, signal.SIGKILL)
        assert up.wait(timeout=30) == 1, text()
        assert "node2 (pid %d) was killed by signal 9" % pid in text(), text()
        assert all("node%d stopped" % i in text() for i in (0, 1, 3)), text()
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()


def test_a_transaction_admitted_before_the_peers_connect_still_commits(tmp_dir):
    """node0 admits a transaction while no peer is up, so its forward goes to
    nobody; when the others start, node0 hands each of them its pool as the
    session comes up, and the leader of view 1 (node1, not node0) proposes
    it.  Without that only node0 knows the transaction: its lone timeouts
    never make a view change and the network sits idle for ever."""
    n = Network(tmp_dir)
    try:
        n.start(0)
        n.wait_healthy([0])
        key = os.path.join(tmp_dir, "early.key")
        keygen(key)
        r = send(n, 0, key, {"key": "early", "value": "bird"})
        assert r.returncode == 0, r.stdout + r.stderr
        time.sleep(0.5)  # the forward outbox's linger (20 ms) is long over
        for i in range(1, n.count):
            n.start(i)
        n.wait_healthy(range(n.count))
        wait_for("the early transaction committed",
                 lambda: query(n, 2, "early").returncode == 0)
        assert json.loads(query(n, 2, "early").stdout)["result"]["value"] == "bird"
        n.agree(range(n.count), 1)
    finally:
        codes = n.stop_all()
    assert all(c == 0 for c in codes.values()), codes


def test_a_transaction_behind_a_nonce_gap_changes_no_view(tmp_dir):
    """A transaction whose nonce is ahead of its sender's next one waits in the pools
    without making the validators time out views (nothing could be proposed for it); when
    the gap fills, all of them commit in nonce order."""
    n = Network(tmp_dir)
    try:
        for i in range(n.count):
            n.start(i)
        n.wait_healthy(range(n.count))
        key = os.path.join(tmp_dir, "gap.key")
        pub = keygen(key)
        r = send(n, 0, key, {"key": "gap-3", "value": "c"}, "--nonce", "3")
        assert r.returncode == 0, r.stdout + r.stderr
        before = [n.status(i)["view"] for i in range(n.count)]
        time.sleep(3.5)  # three view timeouts (genesis view_timeout_ms 1000)
        assert [n.status(i)["view"] for i in range(n.count)] == before
        for i in range(n.count):
            text = n.get(i, "/metrics").text
            assert metric_values(text).get("quipu_chain_view_changes_total") == 0, text
        assert n.status(0)["height"] == 0
        for nonce in (2, 1):  # the later one first: it waits too
            r = send(n, 1, key, {"key": "gap-%d" % nonce, "value": "x"}, "--nonce", str(nonce))
            assert r.returncode == 0, r.stdout + r.stderr
        wait_for("the three transactions committed", lambda: n.get(
            2, "/v1/chain/nonce/" + pub).json()["committed_nonce"] == 3)
        assert json.loads(query(n, 3, "gap-3").stdout)["result"]["value"] == "c"
    finally:
        codes = n.stop_all()
    assert all(c == 0 for c in codes.values()), codes


def test_a_full_mempool_makes_room_for_a_takeable_transaction(tmp_dir):
    """modules.chain.mempool_txs_max bounds a node's pool.  Nodes 1-3 hold one
    transaction each, and a transaction behind a nonce gap fills them; a transaction a block
    can take, sent to node0 (not the leader of view 1), still reaches the leader: a full pool
    removes a gapped one to make room (quipu_chain_mempool_evicted_total).  Without that only
    node0 would know it, and one validator's timeouts never change the view.  A value out of
    range is refused at start, naming the key."""
    n = Network(tmp_dir)
    refused_then_set(n, "mempool_txs_max", 0, 65536)
    for i in range(1, n.count):
        path = os.path.join(n.home(i), "node.json")
        with open(path) as f:
            config = json.load(f)
        config["modules"]["chain"]["mempool_txs_max"] = 1
        with open(path, "w") as f:
            json.dump(config, f)
    try:
        for i in range(n.count):
            n.start(i)
        n.wait_healthy(range(n.count))
        gap = os.path.join(tmp_dir, "gap.key")
        keygen(gap)
        r = send(n, 1, gap, {"key": "later", "value": "x"}, "--nonce", "4")
        assert r.returncode == 0, r.stdout + r.stderr
        wait_for("every pool holds the gapped transaction", lambda: all(
            n.status(i)["mempool"]["count"] == 1 for i in range(n.count)))
        other = os.path.join(tmp_dir, "other.key")
        keygen(other)
        r = send(n, 1, other, {"key": "other", "value": "x"}, "--nonce", "2")
        assert r.returncode == 2 and "mempool_full" in r.stderr, r.stdout + r.stderr
        ready = os.path.join(tmp_dir, "ready.key")
        keygen(ready)
        r = send(n, 0, ready, {"key": "now", "value": "y"}, "--wait", "--timeout", "20")
        assert r.returncode == 0, r.stdout + r.stderr
        evicted = [metric_values(n.get(i, "/metrics").text)["quipu_chain_mempool_evicted_total"]
                   for i in range(n.count)]
        assert evicted[0] == 0 and all(e >= 1 for e in evicted[1:]), evicted
    finally:
        codes = n.stop_all()
    assert all(c == 0 for c in codes.values()), codes


def test_require_api_key_guards_the_chain_routes(tmp_dir):
    """modules.chain.require_api_key: without a key the chain routes answer 401, a key
    without the route's scope 403 (chain:read for reads, chain:submit for POST
    /v1/chain/txs); `quipu chain send` / `query` take the key from $QUIPU_KEY as
    `quipu client` does."""
    n = Network(tmp_dir, validators=1)
    path = os.path.join(n.home(0), "node.json")
    with open(path) as f:
        config = json.load(f)
    config["modules"]["chain"]["require_api_key"] = True
    with open(path, "w") as f:
        json.dump(config, f)
    data = n.home(0)
    keys = {}
    for name, scopes in (("rw", "chain:submit,chain:read"), ("ro", "chain:read"),
                         ("other", "ledger:read")):
        out = quipu("keys", "create", "--data", data, "--name", name, "--scope", scopes)
        keys[name] = out.stdout.strip()
        assert keys[name].startswith("qpk_"), out
    n.start(0)
    try:
        n.wait_healthy([0])

        def get(path, key=None):
            headers = {"Authorization": "Bearer " + key} if key else {}
            return n.session.get(n.url(0, path), headers=headers, timeout=5)

        assert get("/v1/chain/status").status_code == 401
        assert get("/v1/chain/status", keys["other"]).status_code == 403
        assert get("/v1/chain/status", keys["ro"]).status_code == 200
        client = os.path.join(tmp_dir, "client.key")
        pub = keygen(client)
        args = ["chain", "send", "--node", n.url(0), "--key", client, "--app", "kv",
                "--method", "put", "--args", '{"key":"guarded","value":"v"}']
        r = quipu(*args, "--wait", check=False)
        assert r.returncode == 2 and "401" in r.stderr + r.stdout, (r.stdout, r.stderr)
        env = dict(os.environ, QUIPU_KEY=keys["ro"])
        hex_tx = quipu(*args, "--nonce", "1", "--dry-run", env=env).stdout.strip()
        r = n.session.post(n.url(0, "/v1/chain/txs"), json={"tx": hex_tx},
                           headers={"Authorization": "Bearer " + keys["ro"]}, timeout=5)
        assert r.status_code == 403, r.text
        assert get("/v1/chain/nonce/" + pub, keys["ro"]).json()["committed_nonce"] == 0
        env = dict(os.environ, QUIPU_KEY=keys["rw"])
        r = quipu(*args, "--wait", check=False, env=env)
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert json.loads(r.stdout)["status"] == "ok"
        r = quipu("chain", "query", "--node", n.url(0), "--app", "kv", "--method", "get",
                  "--args", '{"key":"guarded"}', check=False, env=dict(os.environ,
                                                                        QUIPU_KEY=keys["ro"]))
        assert r.returncode == 0 and json.loads(r.stdout)["result"]["value"] == "v", r.stderr
    finally:
        assert n.stop_all() == {0: 0}


def refused_then_set(n, name, bad, good):
    """Node 0 refuses to start with modules.chain.<name> = bad, naming the key; then the
    setting is left at good."""
    path = os.path.join(n.home(0), "node.json")
    with open(path) as f:
        config = json.load(f)
    for value in (bad, good):
        config["modules"]["chain"][name] = value
        with open(path, "w") as f:
            json.dump(config, f)
        if value is bad:
            r = quipu("node", "--home", n.home(0), check=False)
            assert r.returncode != 0 and name in r.stdout + r.stderr, (r.stdout, r.stderr)


def test_propose_txs_max_caps_the_blocks_a_node_proposes(tmp_dir):
    """modules.chain.propose_txs_max: a node puts at most that many transactions in a block
    it proposes (blocks are still checked against genesis block_txs_max), so a burst is
    spread over several blocks and every transaction commits; a value out of 1..65536 is
    refused at start with the key named."""
    n = Network(tmp_dir, validators=1)
    refused_then_set(n, "propose_txs_max", 0, 3)
    n.start(0)
    try:
        n.wait_healthy([0])
        key = os.path.join(tmp_dir, "client.key")
        pub = keygen(key)
        txs = []
        for k in range(10):
            r = send(n, 0, key, {"key": "cap-%d" % k, "value": "v"}, "--dry-run", "--nonce",
                     str(k + 1))
            assert r.returncode == 0, r.stderr
            txs.append(r.stdout.strip())
        r = n.session.post(n.url(0, "/v1/chain/txs"), json={"txs": txs}, timeout=10)
        assert r.status_code == 200 and all(x["result"] == "ok" for x in r.json()["results"]), \
            r.text
        wait_for("10 transactions committed", lambda: n.get(
            0, "/v1/chain/nonce/" + pub).json()["committed_nonce"] == 10)
        height = n.status(0)["height"]
        sizes = [len(n.get(0, "/v1/chain/blocks/%d" % h).json()["txs"])
                 for h in range(1, height + 1)]
        assert sum(sizes) == 10 and max(sizes) == 3 and len([s for s in sizes if s]) >= 4, sizes
    finally:
        assert n.stop_all() == {0: 0}


def newest_slot(path):
    """The newest valid record of a two-slot file (docs/store.md, "Records rewritten in
    place"): (seq, record bytes); checks each slot's BLAKE2b-128 as the format says."""
    import hashlib
    import struct
    with open(path, "rb") as f:
        data = f.read()
    assert len(data) % 2 == 0 and len(data) // 2 >= 32, len(data)
    half = len(data) // 2
    best = None
    for k in range(2):
        slot = data[k * half:(k + 1) * half]
        magic, length, seq = struct.unpack_from("<4sIQ", slot, 16)
        if magic != b"QPS1" or 32 + length > half:
            continue
        if hashlib.blake2b(slot[16:32 + length], digest_size=16).digest() != slot[:16]:
            continue
        if best is None or seq > best[0]:
            best = (seq, slot[32:32 + length])
    assert best is not None, "no valid slot in %s" % path
    return best


def test_safety_record_in_two_slots_and_the_old_file_carried_over(tmp_dir):
    """The safety record lives in <data>/chain/safety.slots, rewritten in place before every
    vote (docs/chain.md, "What runs"): after a committed transaction its newest slot holds a
    record with a vote in it. A node of an earlier version kept the record as the whole file
    `safety`: given only that file, a node starts from it, carries it into the slot file and
    removes it, and goes on committing. A bad modules.chain.propose_linger_ms is refused with
    the key named."""
    import glob
    import struct
    n = Network(tmp_dir, validators=1)
    refused_then_set(n, "propose_linger_ms", 501, 20)
    key = os.path.join(tmp_dir, "client.key")
    keygen(key)
    n.start(0)
    n.wait_healthy([0])
    r = send(n, 0, key, {"key": "s1", "value": "v"}, "--wait")
    assert r.returncode == 0, r.stderr
    assert n.stop_all() == {0: 0}
    slots = glob.glob(os.path.join(n.home(0), "**", "chain", "safety.slots"), recursive=True)
    assert len(slots) == 1, slots
    seq, record = newest_slot(slots[0])
    voted = struct.unpack_from("<Q", record, 1)[0]
    assert seq >= 1 and voted >= 1, (seq, voted)
    old = os.path.join(os.path.dirname(slots[0]), "safety")
    with open(old, "wb") as f:
        f.write(record)
    os.remove(slots[0])
    n.start(0)
    try:
        n.wait_healthy([0])
        r = send(n, 0, key, {"key": "s2", "value": "v"}, "--wait")
        assert r.returncode == 0, r.stderr
        assert not os.path.exists(old)
        _, now = newest_slot(slots[0])
        assert struct.unpack_from("<Q", now, 1)[0] > voted
    finally:
        assert n.stop_all() == {0: 0}
