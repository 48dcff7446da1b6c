"""State and transaction proofs end to end (docs/chain.md, "State proofs"):
a real 4-validator network answers `GET /v1/chain/kv/{key}?proof=1` and
`GET /v1/chain/txs/{hash}?proof=1`, and `quipu chain verify-proof` checks
the answers offline with nothing but genesis.json - exit 0 and one line
when valid, exit 1 and the failing step for every way of altering them.
"""
import copy
import json
import os
import shutil

import pytest

from conftest import RUNNER, quipu
from test_chain import started_network, keygen, send, wait_for

pytestmark = pytest.mark.skipif(
    RUNNER != "node", reason="starts its own chain network: runs once, in the node pass")


@pytest.fixture(scope="module")
def pnet(binary):
    n = started_network("quipu-e2e-proof-")
    root = n.root
    n.client = os.path.join(root, "client.key")
    keygen(n.client)
    for k, v in [("color", "blue"), ("size", "large"), ("gone", "soon")]:
        r = send(n, 0, n.client, {"key": k, "value": v}, "--wait")
        assert r.returncode == 0 and json.loads(r.stdout)["status"] == "ok", r.stdout + r.stderr
    r = send(n, 0, n.client, {"key": "gone"}, "--wait", method="delete")
    assert r.returncode == 0 and json.loads(r.stdout)["status"] == "ok", r.stdout + r.stderr
    n.last_tx = json.loads(r.stdout)["tx"]
    n.agree(range(n.count), json.loads(r.stdout)["height"])
    n.genesis = os.path.join(n.home(0), "genesis.json")
    yield n
    n.stop_all()
    shutil.rmtree(root, ignore_errors=True)


def verify(net, proof, name="proof.json", genesis=None):
    path = os.path.join(net.root, name)
    with open(path, "w") as f:
        f.write(proof if isinstance(proof, str) else json.dumps(proof))
    return quipu("chain", "verify-proof", "--genesis", genesis or net.genesis, path, check=False)


def get_proof(net, i, path):
    def ready():
        r = net.get(i, path)
        return r if r.status_code == 200 else None
    return wait_for("a proof from node%d" % i, ready).json()


def test_kv_inclusion_and_absence_verify_offline(pnet):
    for i in range(pnet.count):  # any validator's proof checks against the same genesis
        answer = get_proof(pnet, i, "/v1/chain/kv/color?proof=1")
        assert answer["value"] == "blue" and answer["height"] == answer["proof"]["height"]
        r = verify(pnet, answer)  # the whole answer (its "proof" member) ...
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.startswith('valid: kv key "color" = "blue" at height ')
        assert "of 4 validators signed" in r.stdout
        assert verify(pnet, answer["proof"]).returncode == 0  # ... or the proof alone
    absent = get_proof(pnet, 2, "/v1/chain/kv/never-written?proof=1")
    assert absent["value"] is None and absent["proof"]["value"] is None
    r = verify(pnet, absent)
    assert r.returncode == 0 and 'kv key "never-written" is absent' in r.stdout, r.stdout
    deleted = get_proof(pnet, 3, "/v1/chain/kv/gone?proof=1")
    r = verify(pnet, deleted)
    assert r.returncode == 0 and "has no value (deleted)" in r.stdout, r.stdout
    # Without ?proof the answers are unchanged; bad query arguments are named.
    assert "proof" not in pnet.get(0, "/v1/chain/kv/color").json()
    assert pnet.get(0, "/v1/chain/kv/never-written").status_code == 404
    r = pnet.get(0, "/v1/chain/kv/color?proof=yes")
    assert r.status_code == 400 and r.json()["error"]["path"] == "proof"
    r = pnet.get(0, "/v1/chain/kv/color?prove=1")
    assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_parameter"


def test_tx_and_receipt_proof_verifies_offline(pnet):
    answer = get_proof(pnet, 1, "/v1/chain/txs/%s?proof=1" % pnet.last_tx)
    assert answer["receipt"]["tx"] == pnet.last_tx
    r = verify(pnet, answer)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("valid: transaction %s (kv.delete)" % pnet.last_tx), r.stdout
    assert pnet.get(1, "/v1/chain/txs/%s?proof=1" % ("0" * 64)).status_code == 404


def flip(hex_text, at):
    """hex_text with the hex digit at `at` changed."""
    c = hex_text[at]
    return hex_text[:at] + ("0" if c != "0" else "1") + hex_text[at + 1:]


def refused(net, proof, step):
    r = verify(net, proof, name="tampered.json")
    assert r.returncode == 1, (step, r.stdout, r.stderr)
    assert r.stdout.startswith("invalid: ") and step in r.stdout, (step, r.stdout)


def test_every_alteration_of_a_kv_proof_is_caught(pnet):
    good = get_proof(pnet, 0, "/v1/chain/kv/color?proof=1")["proof"]
    cases = []
    p = copy.deepcopy(good)  # another value
    p["value"] = p["value"][:-8] + "72656421"
    cases.append((p, "smt: the leaf holds another value"))
    p = copy.deepcopy(good)  # the value claimed absent
    p["value"] = None
    cases.append((p, "smt: the key is present"))
    p = copy.deepcopy(good)  # another key
    p["key"] = "73697a65"  # "size"
    cases.append((p, "smt: "))
    for d in range(len(good["smt"]["siblings"])):  # each sibling hash
        p = copy.deepcopy(good)
        p["smt"]["siblings"][d] = flip(p["smt"]["siblings"][d], 5)
        cases.append((p, "smt: "))
    p = copy.deepcopy(good)  # a header field (the timestamp): the chain to the cert breaks
    p["headers"][0] = flip(p["headers"][0], 34)
    cases.append((p, "not the child of"))
    p = copy.deepcopy(good)  # the header's state root
    p["headers"][0] = flip(p["headers"][0], 2 * 124 + 3)
    cases.append((p, "smt: the path does not hash to the state root"))
    p = copy.deepcopy(good)  # a signature of the commit's QC
    p["cert"] = flip(p["cert"], len(p["cert"]) - 3)
    cases.append((p, "is not valid"))
    p = copy.deepcopy(good)  # the claimed height
    p["height"] += 1
    cases.append((p, "headers[0]: its height is"))
    p = copy.deepcopy(good)  # another network
    p["genesis_hash"] = flip(p["genesis_hash"], 0)
    cases.append((p, "genesis: the proof is for another network"))
    for p, step in cases:
        refused(pnet, p, step)
    # Malformed proofs are refused naming the field.
    p = copy.deepcopy(good)
    del p["cert"]
    refused(pnet, p, "cert is missing")
    p = copy.deepcopy(good)
    p["extra"] = 1
    refused(pnet, p, "extra: not a field of a proof")
    p = copy.deepcopy(good)
    p["smt"]["siblings"][0] = "zz"
    refused(pnet, p, "siblings[0]")
    refused(pnet, "{not json", "not a JSON object")
    refused(pnet, json.dumps(dict(good, format="other")), "format: must be")


def test_a_proof_checked_against_another_genesis_fails(pnet, tmp_dir):
    other = os.path.join(tmp_dir, "other")
    quipu("chain", "init", "--validators", "4", "--dir", other, "--base-port", "9100")
    good = get_proof(pnet, 0, "/v1/chain/kv/size?proof=1")
    r = verify(pnet, good, genesis=os.path.join(other, "node0", "genesis.json"))
    assert r.returncode == 1 and "another network" in r.stdout, r.stdout
    r = quipu("chain", "verify-proof", os.path.join(pnet.root, "proof.json"), check=False)
    assert r.returncode == 2 and "--genesis" in r.stderr


def test_every_alteration_of_a_tx_proof_is_caught(pnet):
    good = get_proof(pnet, 1, "/v1/chain/txs/%s?proof=1" % pnet.last_tx)["proof"]
    p = copy.deepcopy(good)
    p["receipt"] = p["receipt"].replace('"ok"', '"failed"', 1)
    refused(pnet, p, "receipt_path: the receipt is not in the block's receipts root")
    p = copy.deepcopy(good)
    p["tx"] = flip(p["tx"], len(p["tx"]) - 4)  # inside the signature
    refused(pnet, p, "tx: its signature does not verify")
    p = copy.deepcopy(good)
    p["tx_count"] += 1
    refused(pnet, p, "tx_path")
    p = copy.deepcopy(good)
    p["headers"][0] = flip(p["headers"][0], 2 * 92 + 1)  # the tx root
    refused(pnet, p, "tx_path: the transaction is not in the block's tx root")
