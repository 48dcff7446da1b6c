"""Lua contracts end to end on a real 4-validator network (docs/chain.md,
"Contracts (Lua)"): `quipu chain deploy` stores a counter, `quipu chain
send --contract` calls it through consensus, `quipu chain query` reads its
state; an endless loop stops out of gas with its whole limit used and the
chain goes on; bad code, bad args and bad gas are refused with a clear
message and change nothing; the four nodes agree on the state root.

Reuses the network of test_chain.py (Network); runs in the node pass only.
"""
import json
import os
import shutil
import tempfile

import pytest

from conftest import RUNNER, quipu
from test_chain import Network, keygen

pytestmark = pytest.mark.skipif(
    RUNNER != "node", reason="starts its own chain network: runs once, in the node pass")

COUNTER = """
-- a counter: inc adds `by` (default 1) and returns the new count
function inc(a)
  local n = (state.get("n") or 0) + ((a and a.by) or 1)
  state.put("n", n)
  emit({count = n})
  return n
end
function spin() while true do end end
function boom() state.put("n", -1) error("boom") end
"""


@pytest.fixture(scope="module")
def lnet(binary):
    root = tempfile.mkdtemp(prefix="quipu-e2e-lua-")
    n = Network(root)
    for i in range(n.count):
        n.start(i)
    n.wait_healthy(range(n.count))
    n.root = root
    n.key = os.path.join(root, "client.key")
    keygen(n.key)
    yield n
    codes = n.stop_all()
    shutil.rmtree(root, ignore_errors=True)
    assert all(c == 0 for c in codes.values()), codes


def write(root, name, text):
    path = os.path.join(root, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def call(net, i, addr, method, *extra):
    return quipu("chain", "send", "--node", net.url(i), "--key", net.key, "--contract", addr,
                 "--method", method, "--wait", *extra, check=False)


def counter_value(net, i, addr):
    out = quipu("chain", "query", "--node", net.url(i), "--app", "lua", "--method", "get",
                "--args", json.dumps({"contract": addr, "key": "n"}), check=False)
    assert out.returncode == 0, out
    return json.loads(out.stdout)["result"]["value"]


def deploy(net, path):
    return quipu("chain", "deploy", "--node", net.url(0), "--key", net.key, "--code", path,
                 "--wait", check=False)


def test_counter_through_consensus(lnet):
    path = write(lnet.root, "counter.lua", COUNTER)
    out = deploy(lnet, path)
    assert out.returncode == 0, out
    lines = out.stdout.splitlines()
    addr, receipt = lines[0], json.loads(lines[1])
    assert len(addr) == 64 and receipt["status"] == "ok", out
    assert receipt["result"]["contract"] == addr
    # Three calls, each through another node, each committed with --wait.
    for k in range(1, 4):
        out = call(lnet, k % 4, addr, "inc")
        assert out.returncode == 0, out
        r = json.loads(out.stdout)
        assert r["status"] == "ok" and r["result"]["value"] == k, r
        assert r["result"]["gas_used"] > 0
        assert r["events"] == [{"type": "lua.emit", "contract": addr, "data": {"count": k}}]
    assert counter_value(lnet, 3, addr) == 3  # node 3 answered the last --wait
    # An endless loop uses exactly its gas and writes nothing; the chain goes on.
    out = call(lnet, 1, addr, "spin", "--gas", "50000")
    assert out.returncode == 1, out
    r = json.loads(out.stdout)
    assert r["code"] == "out_of_gas" and r["result"]["gas_used"] == 50000, r
    out = call(lnet, 2, addr, "boom")
    assert out.returncode == 1 and "error: contract:" in out.stdout and "boom" in out.stdout, out
    out = call(lnet, 3, addr, "inc", "--args", '{"by": 10}')
    assert out.returncode == 0 and json.loads(out.stdout)["result"]["value"] == 13, out
    height = json.loads(out.stdout)["height"]
    lnet.agree(range(4), height)
    assert all(counter_value(lnet, i, addr) == 13 for i in range(4))
    code = quipu("chain", "query", "--node", lnet.url(2), "--app", "lua", "--method", "code",
                 "--args", json.dumps({"contract": addr}))
    assert json.loads(code.stdout)["result"]["code"] == COUNTER


def test_bad_input_is_refused(lnet):
    root = lnet.root
    # Code that does not compile: refused before anything is signed.
    bad = write(root, "bad.lua", "function inc(\n")
    out = deploy(lnet, bad)
    assert out.returncode == 2 and "does not compile" in out.stderr, out
    assert "contract:2:" in out.stderr, out
    # The same sent raw reaches the chain: a failed receipt compile_error.
    out = quipu("chain", "send", "--node", lnet.url(0), "--key", lnet.key, "--app", "lua",
                "--method", "deploy", "--args", json.dumps({"code": "function inc("}),
                "--wait", check=False)
    assert out.returncode == 1 and '"code":"compile_error"' in out.stdout, out
    # Deploying the same code twice: same address, already_deployed.
    path = write(root, "twice.lua", "function f() return 1 end\n")
    first, second = deploy(lnet, path), deploy(lnet, path)
    assert first.returncode == 0, first
    assert second.returncode == 1 and "already_deployed" in second.stdout, second
    addr = first.stdout.splitlines()[0]
    assert second.stdout.splitlines()[0] == addr
    cases = [(["--args", "{not json"], "not JSON"),
             (["--args", "1.5"], "real number"),
             (["--args", "[1, null]"], "null"),
             (["--gas", "0"], "--gas must be"),
             (["--gas", "10000001"], "--gas must be")]
    for extra, msg in cases:
        out = call(lnet, 0, addr, "f", *extra)
        assert out.returncode == 2 and msg in out.stderr, (extra, out)
    out = call(lnet, 0, "abc", "f")
    assert out.returncode == 2 and "64 hex digits" in out.stderr, out
    # Gas the CLI would refuse, sent raw: a failed receipt naming gas.
    for gas in (0, 10000001):
        out = quipu("chain", "send", "--node", lnet.url(0), "--key", lnet.key, "--app", "lua",
                    "--method", "call", "--args",
                    json.dumps({"contract": addr, "method": "f", "gas": gas}), "--wait",
                    check=False)
        assert out.returncode == 1 and '"code":"bad_args"' in out.stdout, out
        assert "gas must be an integer from 1 to 10000000" in out.stdout, out
    out = call(lnet, 0, addr, "f")
    assert out.returncode == 0 and json.loads(out.stdout)["result"]["value"] == 1, out
    # A 50 KB contract goes through; one over 65,536 bytes is refused locally.
    big = write(root, "big.lua", "function g() return 2 end\n-- " + "x" * 50000 + "\n")
    out = deploy(lnet, big)
    assert out.returncode == 0, out
    out = call(lnet, 0, out.stdout.splitlines()[0], "g")
    assert out.returncode == 0 and json.loads(out.stdout)["result"]["value"] == 2, out
    huge = write(root, "huge.lua", "-- " + "x" * 70000 + "\n")
    out = deploy(lnet, huge)
    assert out.returncode == 2 and "longer than 65536 bytes" in out.stderr, out
