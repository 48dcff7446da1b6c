"""Hot swap of the risk ruleset under a steady decide load (issue 15, "Tests that must exist").

Client threads decide continuously (single events and batches) while the main thread swaps
between two rulesets whose rules, features and outcomes differ, many times.  Every answer must
be 200, every decision must come entirely from one ruleset (its "ruleset" hash says which, and
its fired rules, feature names and outcome must be that ruleset's), a batch must be decided on
one ruleset, and the feature the two rulesets share (same definition) must keep counting across
every swap.
"""
import hashlib
import os
import threading
import time

import pytest
import requests

from test_risk import T0, RiskNode

SHARED = "feature cnt = count by payer over 1h\n"
A = SHARED + """feature fa = count by device over 1h
rule a_rule: cnt >= 1 => challenge score 1 "A"
rule a_two: fa >= 1 => challenge score 2 "A2"
"""
B = SHARED + """feature fb = sum(amount) by payer over 1h
rule b_rule: cnt >= 1 => review score 3 "B"
threshold score >= 3 => block
"""
# What a decision of each ruleset looks like: fired rules, feature names, outcome, score.
SHAPE = {
    "A": ([("a_rule", "challenge", 1, "A"), ("a_two", "challenge", 2, "A2")], ["cnt", "fa"],
          "challenge", 3),
    "B": ([("b_rule", "review", 3, "B")], ["cnt", "fb"], "block", 3),
}
SWAPS = 60
THREADS = 3


def variant(kind, k):
    """Ruleset kind with a comment making swap k's text (so its hash) unique."""
    return (A if kind == "A" else B) + "# swap %d\n" % k


class Client(threading.Thread):
    def __init__(self, node, n):
        super().__init__(daemon=True)
        self.node, self.n, self.stop = node, n, threading.Event()
        self.session = requests.Session()
        self.session.headers["Authorization"] = "Bearer " + node.keys["decide"]
        self.count, self.seen, self.errors, self.batches = 0, set(), [], 0

    def check(self, d, kinds, batch_hash):
        kind = kinds.get(d["ruleset"])
        if kind is None:
            return "unknown ruleset %s" % d["ruleset"]
        rules, features, decision, score = SHAPE[kind]
        got = [(f["rule"], f["outcome"], f["score"], f["reason"]) for f in d["fired"]]
        if got != rules or list(d["features"]) != features or d["decision"] != decision \
                or d["score"] != score:
            return "mixed decision %r (ruleset %s)" % (d, kind)
        self.count += 1
        if d["features"]["cnt"] != self.count:
            return "cnt %s after %d events of this payer: the shared feature lost counts" % (
                d["features"]["cnt"], self.count)
        other = d["features"]["fa" if kind == "A" else "fb"]
        if not 1 <= other <= self.count * (1 if kind == "A" else 5):
            return "%s feature out of range: %r" % (kind, d)
        if batch_hash is not None and d["ruleset"] != batch_hash:
            return "a batch decided on two rulesets"
        self.seen.add(kind)
        return None

    def run(self):
        kinds, i = self.node.kinds, 0
        url = self.node.url("/v1/risk/decide")
        while not self.stop.is_set() and not self.errors:
            size = 1 if i % 2 == 0 else 10
            events = [{"id": "t%d-%d-%d" % (self.n, i, j), "time": T0 + i // 50,
                       "payer": "payer%d" % self.n, "device": "dev%d" % self.n, "amount": 5}
                      for j in range(size)]
            body = events[0] if size == 1 else events
            try:
                r = self.session.post(url, json=body, timeout=30)
            except requests.RequestException as e:
                self.errors.append("request failed: %s" % e)
                break
            if r.status_code != 200:
                self.errors.append("HTTP %d: %s" % (r.status_code, r.text))
                break
            out = r.json() if size > 1 else [r.json()]
            first = out[0]["ruleset"] if size > 1 else None
            self.batches += size > 1
            for d in out:
                err = self.check(d, kinds, first)
                if err:
                    self.errors.append(err)
                    break
            i += 1


@pytest.fixture
def node(binary, tmp_dir):
    n = RiskNode(os.path.join(tmp_dir, "home")).start()
    yield n
    if n.proc.poll() is None:
        n.stop()


def test_hot_swap_under_load(node):
    texts = [variant("A" if k % 2 == 0 else "B", k) for k in range(SWAPS + 1)]
    node.kinds = {hashlib.sha256(t.encode()).hexdigest(): ("A" if k % 2 == 0 else "B")
                  for k, t in enumerate(texts)}
    assert len(node.kinds) == SWAPS + 1
    node.put_ruleset(texts[0])
    clients = [Client(node, n) for n in range(THREADS)]
    for c in clients:
        c.start()
    time.sleep(0.2)
    for k in range(1, SWAPS + 1):
        out = node.put_ruleset(texts[k])
        assert out["rules"] == (2 if k % 2 == 0 else 1) and out["features"] == 2
        # A successful PUT returns once the new ruleset is live.
        assert node.get("/v1/risk/ruleset")["ruleset"] == hashlib.sha256(
            texts[k].encode()).hexdigest()
        time.sleep(0.03)
        if any(c.errors for c in clients):
            break
    time.sleep(0.2)
    for c in clients:
        c.stop.set()
    for c in clients:
        c.join(timeout=30)
        assert not c.is_alive()
    for c in clients:
        assert not c.errors, c.errors[:3]
    for c in clients:
        assert c.count > 100 and c.batches > 5 and c.seen == {"A", "B"}, (c.count, c.seen)
    # The shared feature kept every event of each payer across the 60 swaps.
    for c in clients:
        d = node.decide({"id": "last%d" % c.n, "time": T0, "payer": "payer%d" % c.n})
        assert d["features"]["cnt"] == c.count + 1
    changes = node.get("/v1/risk/changes?limit=1000")["changes"]
    assert len(changes) == SWAPS + 1 and all(c["change"] == "ruleset" for c in changes)
