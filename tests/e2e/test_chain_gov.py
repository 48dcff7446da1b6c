"""Governance end to end (docs/chain.md, "Governance"): on a real
4-validator network, validators vote (2f+1 of the set in force) to forbid
a key from deploying, to remove a validator and to add a brand-new one; the
consensus follows each new set from the next height (the removed node
follows as an observer, the new one joins from a copy of a validator's
store), the chain keeps committing with one validator killed, and proofs of
the later epochs verify offline against genesis alone, carrying every
change since genesis.
"""
import json
import os
import shutil
import subprocess

import pytest

from conftest import QUIPU, RUNNER, quipu
from test_chain import started_network, free_base, keygen, send, wait_for

pytestmark = pytest.mark.skipif(
    RUNNER != "node", reason="starts its own chain network: runs once, in the node pass")


def vkey(net, i):
    return os.path.join(net.home(i), "keys", "validator.key")


def gov(net, node, signer_key, method, args):
    """A gov transaction signed with signer_key through node; the receipt."""
    r = send(net, node, signer_key, args, "--wait", app="gov", method=method)
    assert r.stdout, r.stderr
    return json.loads(r.stdout)


def decide(net, action_args, voters, via=0):
    """validator voters[0] proposes, the others vote (each an index of net or
    a key file); the last receipt."""
    keys = [v if isinstance(v, str) else vkey(net, v) for v in voters]
    r = gov(net, via, keys[0], "propose", action_args)
    assert r["status"] == "ok", r
    pid = r["result"]["proposal"]
    for k in keys[1:]:
        r = gov(net, via, k, "vote", {"proposal": pid})
        assert r["status"] == "ok", r
    return r


def put(net, node, key, client, k, v):
    r = send(net, node, client, {"key": k, "value": v}, "--wait")
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


def start_added(net, source, key, base):
    """Starts the node of a validator governance added (key, ports base and
    base + 1) from a copy of validator `source`'s store, stopping and
    restarting that one around the copy; net.extra is its process; returns
    its URL once healthy."""
    home = os.path.join(net.root, "node-added")
    net.procs[source].terminate()
    net.procs[source].wait(timeout=20)
    net.logs[source].close()
    shutil.copytree(net.home(source), home, ignore=shutil.ignore_patterns(
        "*.log", "quipu.lock", "safety*", "api_keys*"))
    shutil.copy(key, os.path.join(home, "keys", "validator.key"))
    with open(os.path.join(home, "node.json")) as f:
        cfg = json.load(f)
    cfg["listen"] = "127.0.0.1:%d" % base
    cfg["modules"]["chain"]["peer_listen"] = "127.0.0.1:%d" % (base + 1)
    with open(os.path.join(home, "node.json"), "w") as f:
        json.dump(cfg, f)
    net.start(source)
    net.wait_healthy([source])
    log = open(os.path.join(home, "node.log"), "a")
    net.extra = subprocess.Popen([QUIPU, "node", "--home", home], stdout=log,
                                 stderr=subprocess.STDOUT)
    url = "http://127.0.0.1:%d" % base
    wait_for("the added node healthy", lambda: net.session.get(url + "/healthz", timeout=2).ok)
    return url


@pytest.fixture(scope="module")
def gnet(binary):
    n = started_network("quipu-e2e-gov-")
    root = n.root
    n.client = os.path.join(root, "client.key")
    n.client_pub = keygen(n.client)
    n.extra = None
    yield n
    n.stop_all()
    if n.extra is not None and n.extra.poll() is None:
        n.extra.kill()
        n.extra.wait()
    shutil.rmtree(root, ignore_errors=True)


def test_governance_end_to_end(gnet):
    net = gnet
    # Only validators propose; a deployment rule passes at 3 of 4.
    r = gov(net, 0, net.client, "propose", {"action": "forbid_deploy", "key": net.client_pub})
    assert r["status"] == "failed" and r["code"] == "not_validator", r
    r = decide(net, {"action": "forbid_deploy", "key": net.client_pub}, [0, 1])
    assert r["result"]["status"] == "open" and r["result"]["needed"] == 3, r
    r = gov(net, 0, vkey(net, 2), "vote", {"proposal": r["result"]["proposal"]})
    assert r["result"]["status"] == "passed", r
    q = quipu("chain", "query", "--node", net.url(0), "--app", "gov", "--method", "may_deploy",
              "--args", json.dumps({"key": net.client_pub}))
    assert json.loads(q.stdout)["result"]["allowed"] is False
    code = os.path.join(net.root, "c.lua")
    with open(code, "w") as f:
        f.write("function hello(args) return 1 end\n")
    d = quipu("chain", "deploy", "--node", net.url(1), "--key", net.client, "--code", code,
              "--wait", check=False)
    assert d.returncode == 1 and "deploy_forbidden" in d.stdout + d.stderr, d.stdout + d.stderr
    d = quipu("chain", "deploy", "--node", net.url(1), "--key", vkey(net, 2), "--code", code,
              "--wait", check=False)  # a key with no rule: allowed by default
    assert d.returncode == 0, d.stdout + d.stderr

    # Remove validator 3: epoch 1 of 3 validators from the next height.
    node3 = net.status(3)["validators"][3]["public_key"]
    r = decide(net, {"action": "remove_validator", "public_key": node3}, [0, 1, 2])
    assert r["result"]["status"] == "passed", r
    changed = r["height"]
    for i in range(4):
        wait_for("node%d in epoch 1" % i, lambda i=i: net.status(i)["epoch"] == 1)
    s = net.status(0)
    assert len(s["validators"]) == 3 and s["height"] >= changed
    receipt = put(net, 1, net.client, net.client, "after-removal", "yes")
    net.agree([0, 1, 2], receipt["height"])
    # The removed node follows as an observer (a block behind while the chain
    # is idle: the QC that commits the last block travels in the next proposal).
    wait_for("node3 to follow", lambda: net.status(3)["height"] >= receipt["height"] - 1)

    # Add a brand-new validator: epoch 2 of 4.
    new_key = os.path.join(net.root, "node4.key")
    new_pub = keygen(new_key)
    base = free_base(2)
    r = decide(net, {"action": "add_validator", "public_key": new_pub, "name": "node4",
                     "address": "127.0.0.1:%d" % (base + 1)}, [0, 1, 2])
    assert r["result"]["status"] == "passed", r
    for i in range(4):
        wait_for("node%d in epoch 2" % i, lambda i=i: net.status(i)["epoch"] == 2)
    assert [v["name"] for v in net.status(0)["validators"]] == ["node0", "node1", "node2",
                                                                  "node4"]
    # Its node starts from a copy of a stopped validator's store.
    url4 = start_added(net, 0, new_key, base)
    receipt = put(net, 0, net.client, net.client, "with-node4", "yes")
    wait_for("node4 at the new height",
             lambda: net.session.get(url4 + "/v1/chain/status").json()["height"]
             >= receipt["height"])

    # One validator down of four: the chain goes on.
    net.kill9(1)
    receipt = put(net, 2, net.client, net.client, "node1-down", "yes")
    assert receipt["status"] == "ok"

    # A proof of the latest state verifies offline from genesis alone.
    def proof():
        r = net.session.get(url4 + "/v1/chain/kv/node1-down?proof=1")
        return r.json() if r.status_code == 200 else None
    answer = wait_for("a proof from node4", proof)
    path = os.path.join(net.root, "gov-proof.json")
    with open(path, "w") as f:
        json.dump(answer, f)
    genesis = os.path.join(net.home(2), "genesis.json")
    v = quipu("chain", "verify-proof", "--genesis", genesis, path, check=False)
    assert v.returncode == 0, v.stdout + v.stderr
    assert "epoch 2: 2 validator-set changes since genesis followed" in v.stdout, v.stdout
    assert len(answer["proof"]["epochs"]) == 2
    # Dropping or altering a change record is caught.
    p = answer["proof"]
    p["epochs"] = p["epochs"][:1]
    with open(path, "w") as f:
        json.dump(p, f)
    v = quipu("chain", "verify-proof", "--genesis", genesis, path, check=False)
    assert v.returncode == 1 and v.stdout.startswith("invalid: "), v.stdout
    p = answer["proof"]
    p["epochs"] = json.loads(json.dumps(wait_for("a proof", proof)["proof"]["epochs"]))
    text = p["epochs"][1]["receipt"]
    at = text.index('"set":"') + 40  # a byte of the new validator set the receipt carries
    p["epochs"][1]["receipt"] = text[:at] + ("0" if text[at] != "0" else "1") + text[at + 1:]
    with open(path, "w") as f:
        json.dump(p, f)
    v = quipu("chain", "verify-proof", "--genesis", genesis, path, check=False)
    assert v.returncode == 1 and "epochs[1]" in v.stdout, v.stdout


@pytest.fixture(scope="module")
def cnet(binary):
    n = started_network("quipu-e2e-catchup-")
    n.client = os.path.join(n.root, "client.key")
    keygen(n.client)
    n.extra = None
    yield n
    n.stop_all()
    if n.extra is not None and n.extra.poll() is None:
        n.extra.kill()
        n.extra.wait()
    shutil.rmtree(n.root, ignore_errors=True)


def test_catch_up_across_two_epoch_changes(cnet):
    """node3 is down while a validator is added and another removed; on its
    own it fetches the blocks it missed with their commit certificates,
    switches epochs at the same heights, and signs in the current epoch."""
    net = cnet
    put(net, 0, net.client, net.client, "before", "1")
    net.agree([0, 1, 2, 3], 1)
    net.procs[3].terminate()
    net.procs[3].wait(timeout=20)
    net.logs[3].close()
    # Epoch 1: node4 joins (5 validators; it starts from a copy of node0's
    # store, since 3 of 5 are no quorum).
    new_key = os.path.join(net.root, "node4.key")
    new_pub = keygen(new_key)
    base = free_base(2)
    r = decide(net, {"action": "add_validator", "public_key": new_pub, "name": "node4",
                     "address": "127.0.0.1:%d" % (base + 1)}, [0, 1, 2])
    assert r["result"]["status"] == "passed", r
    for i in range(3):
        wait_for("node%d in epoch 1" % i, lambda i=i: net.status(i)["epoch"] == 1)
    start_added(net, 0, new_key, base)
    for k in range(3):
        put(net, k % 3, net.client, net.client, "epoch1-%d" % k, "x")
    # Epoch 2: node1 leaves (node0, node2, node3, node4: node3 still down).
    node1 = net.status(1)["validators"][1]["public_key"]
    r = decide(net, {"action": "remove_validator", "public_key": node1}, [0, 1, 2, new_key])
    assert r["result"]["status"] == "passed", r
    for i in (0, 2):
        wait_for("node%d in epoch 2" % i, lambda i=i: net.status(i)["epoch"] == 2)
    for k in range(3):
        receipt = put(net, 0, net.client, net.client, "epoch2-%d" % k, "y")
    behind = net.status(0)["height"]
    # node3 restarts in epoch 0 and catches up by itself.
    net.start(3)
    net.wait_healthy([3])
    wait_for("node3 in epoch 2", lambda: net.status(3)["epoch"] == 2, timeout=60)
    # ... and at the head, though the chain is idle (nothing shows it a block).
    net.agree([0, 2, 3], behind)
    assert [v["name"] for v in net.status(3)["validators"]] == ["node0", "node2", "node3",
                                                                  "node4"]
    receipt = put(net, 2, net.client, net.client, "node3-back", "z")
    s = net.agree([0, 2, 3], receipt["height"])
    assert s["height"] > behind
    with open(os.path.join(net.home(3), "node.log")) as f:
        assert "catch-up: " in f.read()
    # node3 signs: with node2 stopped, node0, node3 and node4 are the quorum.
    net.kill9(2)
    receipt = put(net, 3, net.client, net.client, "node2-down", "w")
    assert receipt["status"] == "ok"
    net.agree([0, 3], receipt["height"])
    # Its store, made by catching up, proves the state across both changes.
    def proof():
        r = net.get(3, "/v1/chain/kv/node2-down?proof=1")
        return r.json() if r.status_code == 200 else None
    answer = wait_for("a proof from node3", proof)
    path = os.path.join(net.root, "catchup-proof.json")
    with open(path, "w") as f:
        json.dump(answer, f)
    v = quipu("chain", "verify-proof", "--genesis", net.home(3), path, check=False)
    assert v.returncode == 0, v.stdout + v.stderr
    assert "2 validator-set changes since genesis followed" in v.stdout, v.stdout
