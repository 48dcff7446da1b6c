"""The consortium chain in the GM/T suite end to end: a 4-validator network made
with `quipu chain init --crypto sm2` (SM2 signatures, SM3 hashes), driven with the
real `quipu chain keygen --crypto sm2`, `chain send` and `chain query`, as
test_chain.py drives the default suite: submit, commit, query, agreement of
every node, a crash and catch-up; then what SM3 means on the wire (a
transaction's hash, a block's transaction Merkle root) and the refusal of a
transaction signed in the other suite, both ways (docs/chain.md, "Suites").

Like test_chain.py it starts its own network and runs once, in the node pass.
"""
import hashlib
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import QUIPU, RUNNER, quipu
from test_chain import Network, keygen, send, query, wait_for, heights_agree

pytestmark = pytest.mark.skipif(
    RUNNER != "node", reason="starts its own chain network: runs once, in the node pass")

SM2_PUBLIC_HEX = 130  # 65 bytes: 0x04 || x || y


def sm3(data):
    return hashlib.new("sm3", data).digest()


def merkle_root(leaves, h):
    """RFC 6962 / 9162 tree hash over 32-byte leaves with hash h (docs/crypto.md)."""
    if not leaves:
        return h(b"")
    if len(leaves) == 1:
        return h(b"\x00" + leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return h(b"\x01" + merkle_root(leaves[:k], h) + merkle_root(leaves[k:], h))


@pytest.fixture(scope="module")
def net(binary):
    root = tempfile.mkdtemp(prefix="quipu-e2e-chain-sm2-")
    n = Network(root, crypto="sm2")
    for i in range(n.count):
        n.start(i)
    n.wait_healthy(range(n.count))
    n.root = root
    n.clients = [os.path.join(root, "client%d.key" % j) for j in range(4)]
    n.client_pubs = [keygen(k, "sm2") for k in n.clients]
    yield n
    codes = n.stop_all()
    shutil.rmtree(root, ignore_errors=True)
    assert all(c == 0 for c in codes.values()), codes


def test_network_and_keys_are_sm2(net):
    with open(os.path.join(net.home(0), "genesis.json")) as f:
        genesis = json.load(f)
    assert genesis["suite"] == "sm2", genesis
    assert all(len(v["public_key"]) == SM2_PUBLIC_HEX and v["public_key"].startswith("04")
               for v in genesis["validators"]), genesis
    for i in range(net.count):
        assert net.status(i)["suite"] == "sm2"
        with open(os.path.join(net.home(i), "keys", "validator.key")) as f:
            assert json.load(f)["suite"] == "sm2"
    for k, pub in zip(net.clients, net.client_pubs):
        assert len(pub) == SM2_PUBLIC_HEX and pub.startswith("04"), pub
        with open(k) as f:
            key = json.load(f)
        assert key["suite"] == "sm2" and key["public_key"] == pub


def test_puts_commit_and_agree_on_every_node(net):
    for j in range(4):
        r = send(net, j, net.clients[j], {"key": "s%d-first" % j, "value": "hi"}, "--wait")
        assert r.returncode == 0, r.stderr
        receipt = json.loads(r.stdout)
        assert receipt["status"] == "ok" and receipt["result"] == {"key": "s%d-first" % j,
                                                                   "created": True}, receipt
    procs = []
    for j in range(4):
        args = json.dumps({"key": "s%d-k{i}" % j, "value": "v%d-{i}" % j})
        procs.append(subprocess.Popen(
            [QUIPU, "chain", "send", "--node", net.url(j), "--key", net.clients[j], "--app", "kv",
             "--method", "put", "--args", args, "--count", "25"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    hashes = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        assert len(out.split()) == 25, out
        hashes += out.split()
    heights = []
    for h in hashes:
        r = wait_for("tx %s committed" % h,
                     lambda h=h: (lambda r: r if r.status_code == 200 else None)(
                         net.get(0, "/v1/chain/txs/" + h)))
        assert r.json()["receipt"]["status"] == "ok", r.text
        heights.append(r.json()["height"])
    final = net.agree(range(4), max(heights))
    for i in range(4):
        for h in hashes[::7]:
            r = net.get(i, "/v1/chain/txs/" + h)
            assert r.status_code == 200 and r.json()["receipt"]["status"] == "ok", (i, r.text)
    blocks = {net.get(i, "/v1/chain/blocks/%d" % final["height"]).json()["hash"] for i in range(4)}
    assert len(blocks) == 1, blocks
    for j in range(4):
        r = query(net, (j + 1) % 4, "s%d-k7" % j)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["result"] == {"key": "s%d-k7" % j, "value": "v%d-7" % j,
                                                  "owner": net.client_pubs[j]}


def test_hashes_are_sm3(net):
    """A transaction's hash is SM3 of its bytes, and every block's tx_root is the RFC 6962
    Merkle root of its transactions' hashes under SM3 (recomputed here with Python's SM3)."""
    try:
        sm3(b"abc")
    except ValueError:
        pytest.skip("this Python's OpenSSL has no SM3")
    pub = net.client_pubs[1]
    nonce = net.get(0, "/v1/chain/nonce/" + pub).json()["next_nonce"]
    r = send(net, 0, net.clients[1], {"key": "sm3", "value": "x"}, "--dry-run",
             "--nonce", str(nonce))
    assert r.returncode == 0, r.stderr
    tx = r.stdout.strip()
    r = net.post_tx(0, tx)
    assert r.status_code == 202, r.text
    assert r.json()["hash"] == sm3(bytes.fromhex(tx)).hex()
    h = r.json()["hash"]
    wait_for("tx committed", lambda: net.get(0, "/v1/chain/txs/" + h).status_code == 200)
    top = net.status(0)["height"]
    carried = 0
    for height in range(1, top + 1):
        b = net.get(0, "/v1/chain/blocks/%d" % height).json()
        leaves = [bytes.fromhex(x) for x in b["txs"]]
        assert b["tx_root"] == merkle_root(leaves, sm3).hex(), (height, b)
        assert b["tx_root"] != merkle_root(leaves, lambda d: hashlib.sha256(d).digest()).hex()
        carried += len(leaves)
    assert carried > 0


def test_other_suite_refused_both_ways(net, tmp_dir):
    """An Ed25519 key on the SM2 network and an SM2 key on an Ed25519 network: `chain send`
    exits 2 naming both suites before signing anything; a raw POST of such a transaction is
    a 400 wrong_suite whose path is tx.sender and whose message names the network's suite;
    nothing is admitted."""
    ed_key = os.path.join(tmp_dir, "ed.key")
    ed_pub = keygen(ed_key, "ed25519")
    r = send(net, 0, ed_key, {"key": "ed", "value": "x"})
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "is a ed25519 key but the network's suite is sm2" in r.stderr, r.stderr
    assert r.stdout == ""
    other = Network(tmp_dir, validators=1, crypto="ed25519", name="ednet")
    other.start(0)
    try:
        other.wait_healthy([0])
        assert other.status(0)["suite"] == "ed25519"
        r = send(other, 0, ed_key, {"key": "ed", "value": "x"}, "--dry-run", "--nonce", "1")
        assert r.returncode == 0, r.stderr
        ed_tx = r.stdout.strip()
        r = send(other, 0, net.clients[0], {"key": "gm", "value": "x"}, "--nonce", "1")
        assert r.returncode == 2 and "is a sm2 key but the network's suite is ed25519" \
            in r.stderr, r.stderr
        r = send(net, 0, net.clients[0], {"key": "gm", "value": "x"}, "--dry-run",
                 "--nonce", "1")
        assert r.returncode == 0, r.stderr
        gm_tx = r.stdout.strip()
        for target, tx, network_suite, key_suite in ((net, ed_tx, "sm2", "ed25519"),
                                                     (other, gm_tx, "ed25519", "sm2")):
            before = target.status(0)["mempool"]["count"]
            r = target.post_tx(0, tx)
            assert r.status_code == 400, r.text
            err = r.json()["error"]
            assert err["code"] == "wrong_suite" and err["path"] == "tx.sender", err
            assert "this network uses the %s suite" % network_suite in err["message"], err
            assert key_suite in err["message"], err
            r = target.session.post(target.url(0, "/v1/chain/txs"), json={"txs": [tx]},
                                    timeout=10)
            assert r.status_code == 200, r.text
            assert r.json()["results"][0]["result"] == "wrong_suite", r.text
            assert "hash" not in r.json()["results"][0]
            assert target.status(0)["mempool"]["count"] == before
        # Nor is a key of the other suite a sender whose nonce a node can tell.
        for target, pub, network_suite in ((other, net.client_pubs[0], "ed25519"),
                                           (net, ed_pub, "sm2")):
            r = target.get(0, "/v1/chain/nonce/" + pub)
            assert r.status_code == 400, r.text
            err = r.json()["error"]
            assert err["path"] == "sender" and network_suite in err["message"], err
        r = other.get(0, "/v1/chain/nonce/" + ed_pub)
        assert r.status_code == 200 and r.json()["committed_nonce"] == 0, r.text
    finally:
        assert other.stop_all() == {0: 0}


def test_crash_and_catch_up(net):
    key = net.clients[3]
    net.kill9(3)
    for n in range(3):
        r = send(net, n, key, {"key": "sm2-crash-%d" % n, "value": "x"}, "--wait",
                 "--timeout", "20")
        assert r.returncode == 0, r.stderr
    net.start(3)
    net.wait_healthy([3])
    r = send(net, 0, key, {"key": "sm2-after", "value": "y"}, "--wait")
    assert r.returncode == 0, r.stderr
    net.agree(range(4), json.loads(r.stdout)["height"])
    heights_agree(net, 0, 3)


def test_proofs_in_the_sm2_suite_verify_offline(net):
    """SM3 Merkle paths and SM2 QC signatures: a kv proof and a tx proof from an SM2 network
    check offline against its genesis, and a flipped value is caught."""
    r = send(net, 0, net.clients[0], {"key": "proved", "value": "sm2"}, "--wait")
    assert r.returncode == 0, r.stderr
    tx = json.loads(r.stdout)["tx"]
    genesis = os.path.join(net.home(0), "genesis.json")
    for path in ("/v1/chain/kv/proved?proof=1", "/v1/chain/txs/%s?proof=1" % tx):
        answer = wait_for("a proof", lambda path=path: (lambda r: r.json() if r.status_code == 200
                                                        else None)(net.get(1, path)))
        out = os.path.join(net.root, "sm2-proof.json")
        with open(out, "w") as f:
            json.dump(answer, f)
        v = quipu("chain", "verify-proof", "--genesis", genesis, out, check=False)
        assert v.returncode == 0 and v.stdout.startswith("valid: "), v.stdout + v.stderr
    proof = wait_for("a proof", lambda: (lambda r: r.json() if r.status_code == 200 else None)(
        net.get(2, "/v1/chain/kv/proved?proof=1")))["proof"]
    proof["value"] = proof["value"][:-2] + "00"
    with open(out, "w") as f:
        json.dump(proof, f)
    v = quipu("chain", "verify-proof", "--genesis", genesis, out, check=False)
    assert v.returncode == 1 and "smt: the leaf holds another value" in v.stdout, v.stdout
