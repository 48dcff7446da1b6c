#!/usr/bin/python3
"""Real-process torture: `quipu serve` under load, killed with SIGKILL at
seeded random moments, restarted, and checked after every restart (issue 5,
part 2; docs/drills-torture.md).

One round:

  1. load   - several client threads send batches (1..1000 events) of plain
              transfers, linked chains (some built to fail), pending
              transfers and posts/voids of earlier pending ones, over
              keep-alive HTTP, sorting every request by what came back:
              acknowledged (200), refused (any other status) or in doubt
              (no answer: the connection died under it).
              One round in ten instead kills the server 0-40 ms after it was
              spawned, i.e. while it opens, recovers and replays the index.
  2. kill   - SIGKILL at a random moment drawn from the seed.
  3. verify - `quipu verify --data DIR` on the crashed directory, with the
              server stopped.  It must exit 0, and the transfer count it
              replays from the journal must lie between what was known and
              what could at most be there.  (A torn tail - SIGKILL in the
              middle of a large pwrite - is allowed here only if the restart
              then reports cutting it, and verify passes after a clean stop.)
  4. restart and check, against a model of the ledger kept by this script:
       - every acknowledged transfer is present with the fields it was sent
         with (losses, field mismatches); results were the ones the model
         predicts (the workload is built so that every result is known in
         advance, whatever the interleaving);
       - nothing refused or answered with a failure code is present
         (phantoms); an in-doubt batch is there whole or not at all
         (partial batches);
       - every in-doubt batch is re-sent as is: an event that was present
         must answer `exists` (or `linked_event_failed` behind an `exists` in
         its chain), never `ok` (duplicates); an absent one is applied now;
       - every account's four balances equal the sum over the transfers the
         model knows to be present, the audit holds its invariant and counts
         exactly the model's transfers, the history index's last row equals
         the account, and a sample of older transfers is still there.

Every `--rounds-per-dir` rounds the directory is closed with a clean SIGTERM
(exit 0), checked in full (every transfer looked up, verify's totals equal the
model's) and a fresh one is started, which keeps rounds short and memory flat.

Usage: torture.py --kills N --seed S --quipu build/quipu [--json FILE]
Exit 0 when every round passed, 1 otherwise.  A failed round keeps its data
directory and prints its path and the command that replays the seed.
Needs Debian's python3-requests (/usr/bin/python3).
"""
import argparse
import itertools
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

LEDGER = 700
CODE = 10
ACCOUNT_COUNT = 16
HISTORY_ACCOUNTS = 4            # the first ones carry the `history` flag
ACCOUNT_BASE = 1000
MISSING_ACCOUNT = 999_999       # never created: the failing chains name it
LOOKUP_IDS_MAX = 8190
BATCH_SIZES = [1, 1, 1, 2, 3, 5, 8, 13, 20, 50, 100, 250, 1000]
SAMPLE_OLD_MAX = 400            # older transfers re-checked per round
REQUEST_TIMEOUT_S = 20

U128_FIELDS = ("debit_account_id", "credit_account_id", "amount", "pending_id",
               "user_data_128", "user_data_64")
INT_FIELDS = ("user_data_32", "timeout", "ledger", "code")


class Failure(Exception):
    """A broken check that makes the rest of the round meaningless."""


# ------------------------------------------------------------------ server

class Server:
    """One `quipu serve` process on a data directory, on a free loopback port
    (port 0; the port is read back from the startup log line)."""

    def __init__(self, quipu, data_dir, log_dir):
        self.quipu, self.data_dir, self.log_dir = quipu, data_dir, log_dir
        self.proc = None
        self.port = None
        self.starts = 0
        self.log_path = None

    def spawn(self):
        self.starts += 1
        self.log_path = os.path.join(self.log_dir, "serve-%d.log" % self.starts)
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [self.quipu, "serve", "--data", self.data_dir, "--listen", "127.0.0.1:0",
             "--log-level", "info",
             # Transfers leave memory after a few hundred, so kills land
             # while re-sends and restarts go through the cold store.
             "--evict-after", "300"],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.port = None

    def wait_ready(self, timeout_s=30):
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise Failure("quipu serve exited %d while starting:\n%s"
                              % (self.proc.returncode, self.log_tail()))
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", self.read_log())
            if m:
                self.port = int(m.group(1))
                try:
                    if requests.get(self.url("/healthz"), timeout=5).status_code == 200:
                        return
                except requests.RequestException:
                    pass
            time.sleep(0.003)
        raise Failure("quipu serve did not come up:\n" + self.log_tail())

    def start(self):
        self.spawn()
        self.wait_ready()

    def read_log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def log_tail(self, lines=15):
        return "\n".join(self.read_log().splitlines()[-lines:])

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def kill9(self):
        """SIGKILL; True when it hit a live process."""
        hit = False
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            hit = True
        if self.proc is not None:
            self.proc.wait()
        return hit

    def term(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self, timeout_s=30):
        """SIGTERM; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill9()
            raise Failure("quipu serve did not stop within %ds of SIGTERM" % timeout_s)


def run_verify(quipu, data_dir):
    """`quipu verify`; returns (exit code, transfers replayed or None, output)."""
    r = subprocess.run([quipu, "verify", "--data", data_dir], capture_output=True, text=True,
                       timeout=600)
    m = re.search(r"state:\s+(\d+) accounts, (\d+) transfers", r.stdout)
    transfers = int(m.group(2)) if m else None
    return r.returncode, transfers, r.stdout + r.stderr


# -------------------------------------------------------------- workload

class Event:
    """One transfer as sent, the result the model predicts for it and the
    record the ledger must store if it is applied."""
    __slots__ = ("id", "body", "expect", "stored", "kind", "chain_pos", "pending")

    def __init__(self, id_, body, expect, stored, kind, chain_pos=None, pending=None):
        self.id = id_
        self.body = body            # the JSON object sent
        self.expect = expect        # predicted result code
        self.stored = stored        # expected stored fields (dict) when expect == "ok"
        self.kind = kind            # plain, pending, post, void
        self.chain_pos = chain_pos  # position in a linked chain meant to succeed, else None
        self.pending = pending      # (id, debit, credit, amount) of the pending transfer, post/void


class Request:
    """One POST /v1/transfers and what became of it."""
    __slots__ = ("seq", "events", "outcome", "results", "status", "error", "sent_at", "answered_at")

    def __init__(self, seq, events):
        self.seq = seq              # global send order: a post is always sent after its pending's ack
        self.events = events
        self.outcome = None         # acked, refused, indoubt
        self.results = None         # result codes when acked
        self.status = None          # HTTP status when refused
        self.error = None           # error code or exception text
        self.sent_at = None         # time.monotonic() before the request was sent
        self.answered_at = None     # time.monotonic() after its answer arrived


class Workload:
    """Builds batches whose every result is known in advance: accounts have no
    limits, every post/void names a pending transfer that is open and that no
    other request names (the pool hands each out once), and failing chains
    fail by naming an account that never exists."""

    def __init__(self, accounts, ids, pool, pool_lock):
        self.accounts, self.ids = accounts, ids
        self.pool, self.pool_lock = pool, pool_lock

    def take_pending(self, rng):
        with self.pool_lock:
            if not self.pool:
                return None
            i = rng.randrange(len(self.pool))
            self.pool[i], self.pool[-1] = self.pool[-1], self.pool[i]
            return self.pool.pop()

    def give_pending(self, p):
        with self.pool_lock:
            self.pool.append(p)

    @staticmethod
    def user_data(rng, body, stored):
        u128 = rng.getrandbits(128) if rng.random() < 0.5 else 0
        u64 = rng.getrandbits(64) if rng.random() < 0.5 else 0
        u32 = rng.getrandbits(32) if rng.random() < 0.5 else 0
        if u128:
            body["user_data_128"] = str(u128)
        if u64:
            body["user_data_64"] = str(u64)
        if u32:
            body["user_data_32"] = u32
        stored.update(user_data_128=u128, user_data_64=u64, user_data_32=u32)

    def amount(self, rng):
        if rng.random() < 0.02:
            return rng.randrange(1 << 64, 1 << 72)   # beyond u64: 128-bit arithmetic end to end
        return rng.randint(1, 1_000_000)

    def plain(self, rng, flags=(), credit=None, expect="ok", chain_pos=None, pending=False,
              timeout=0):
        id_ = next(self.ids)
        debit, credit2 = rng.sample(self.accounts, 2)
        credit = credit2 if credit is None else credit
        amount = self.amount(rng)
        flags = list(flags) + (["pending"] if pending else [])
        body = {"id": str(id_), "debit_account_id": str(debit), "credit_account_id": str(credit),
                "amount": str(amount), "ledger": LEDGER, "code": CODE, "flags": flags}
        stored = {"debit_account_id": debit, "credit_account_id": credit, "amount": amount,
                  "pending_id": 0, "timeout": timeout, "ledger": LEDGER, "code": CODE,
                  "flags": frozenset(f for f in flags if f != "linked")}
        if timeout:
            body["timeout"] = timeout
        self.user_data(rng, body, stored)
        return Event(id_, body, expect, stored if expect == "ok" else None,
                     "pending" if pending else "plain", chain_pos)

    def post_or_void(self, rng, p):
        pid, debit, credit, pamount = p
        id_ = next(self.ids)
        body = {"id": str(id_), "pending_id": str(pid)}
        r = rng.random()
        if r < 0.35:      # post the full amount, amount omitted
            kind, amount, flag = "post", pamount, "post_pending_transfer"
        elif r < 0.5:     # post the full amount, named
            kind, amount, flag = "post", pamount, "post_pending_transfer"
            body["amount"] = str(pamount)
        elif r < 0.75:    # post part of it: the rest is released
            kind, amount, flag = "post", rng.randint(1, pamount), "post_pending_transfer"
            body["amount"] = str(amount)
        else:             # void
            kind, amount, flag = "void", pamount, "void_pending_transfer"
            if rng.random() < 0.5:
                body["amount"] = str(pamount)
        body["flags"] = [flag]
        if rng.random() < 0.5:   # accounts, ledger and code may be named; they must match
            body.update(debit_account_id=str(debit), credit_account_id=str(credit),
                        ledger=LEDGER, code=CODE)
        stored = {"debit_account_id": debit, "credit_account_id": credit, "amount": amount,
                  "pending_id": pid, "timeout": 0, "ledger": LEDGER, "code": CODE,
                  "flags": frozenset([flag])}
        self.user_data(rng, body, stored)
        return Event(id_, body, "ok", stored, kind, pending=p)

    def batch(self, rng, size):
        """At least `size` events (a chain is never cut)."""
        events = []
        while len(events) < size:
            r = rng.random()
            if r < 0.42:
                events.append(self.plain(rng))
            elif r < 0.52:                       # a chain that succeeds as a whole
                n = rng.randint(2, 4)
                for k in range(n):
                    events.append(self.plain(rng, flags=["linked"] if k < n - 1 else [],
                                             chain_pos=k))
            elif r < 0.55:                       # a chain that fails as a whole
                events.append(self.plain(rng, flags=["linked"], expect="linked_event_failed"))
                events.append(self.plain(rng, credit=MISSING_ACCOUNT,
                                         expect="credit_account_not_found"))
            elif r < 0.72:
                events.append(self.plain(rng, pending=True, timeout=rng.choice([0, 0, 3600])))
            elif r < 0.92:
                p = self.take_pending(rng)
                events.append(self.post_or_void(rng, p) if p else self.plain(rng))
            else:                                # pending and its post in one batch
                e = self.plain(rng, pending=True)
                s = e.stored
                events.append(e)
                events.append(self.post_or_void(
                    rng, (e.id, s["debit_account_id"], s["credit_account_id"], s["amount"])))
        return events


class Client(threading.Thread):
    """Sends batches until the server dies under it (or it is told to stop)."""

    def __init__(self, url, key, workload, rng, seqs, log, log_lock):
        super().__init__(daemon=True)
        self.url, self.workload, self.rng = url, workload, rng
        self.seqs, self.log, self.log_lock = seqs, log, log_lock
        self.session = requests.Session()
        self.session.headers["Authorization"] = "Bearer " + key
        self.stop_flag = False

    def run(self):
        try:
            while not self.stop_flag:
                if not self.send_one():
                    return
        finally:
            self.session.close()

    def send_one(self):
        events = self.workload.batch(self.rng, self.rng.choice(BATCH_SIZES))
        req = Request(next(self.seqs), events)
        with self.log_lock:
            self.log.append(req)
        payload = [e.body for e in events]
        try:
            req.sent_at = time.monotonic()
            r = self.session.post(self.url, json=payload, timeout=REQUEST_TIMEOUT_S)
            req.answered_at = time.monotonic()
            body = r.json() if r.status_code in (200, 400, 413, 429, 500, 503) else None
        except (requests.RequestException, ValueError) as e:
            req.outcome, req.error = "indoubt", type(e).__name__
            return False
        if r.status_code == 200:
            req.outcome = "acked"
            req.results = [row["result"] for row in body["results"]]
            for e, res in zip(events, req.results):
                if e.kind == "pending" and res == "ok" and not self.is_posted_in(events, e.id):
                    self.workload.give_pending((e.id, e.stored["debit_account_id"],
                                                e.stored["credit_account_id"], e.stored["amount"]))
            return True
        req.outcome, req.status = "refused", r.status_code
        req.error = (body or {}).get("error", {}).get("code", r.text[:80])
        for e in events:   # nothing was applied: the pendings it named are still open
            if e.kind in ("post", "void") and not self.is_in(events, e.pending[0]):
                self.workload.give_pending(e.pending)
        time.sleep(0.005)
        return r.status_code in (429, 503)

    @staticmethod
    def is_posted_in(events, pid):
        return any(e.pending is not None and e.pending[0] == pid for e in events)

    @staticmethod
    def is_in(events, id_):
        return any(e.id == id_ for e in events)


# ------------------------------------------------------------------ model

class Model:
    """What the ledger must hold: every transfer known to be present (with its
    expected stored fields), the pending transfers' states and every account's
    four balances, updated once per transfer as it becomes known."""

    def __init__(self, accounts):
        self.accounts = accounts
        self.balances = {a: [0, 0, 0, 0] for a in accounts}   # dpe, dpo, cpe, cpo
        self.transfers = {}        # id -> expected stored fields
        self.present_ids = []      # for sampling
        self.state = {}            # pending id -> pending / posted / voided

    def apply(self, e):
        """Adds a transfer that is present.  Returns an error string or None."""
        if e.id in self.transfers:
            return "transfer %d counted twice" % e.id
        s = e.stored
        b_dr, b_cr = self.balances[s["debit_account_id"]], self.balances[s["credit_account_id"]]
        if e.kind == "plain":
            b_dr[1] += s["amount"]
            b_cr[3] += s["amount"]
        elif e.kind == "pending":
            b_dr[0] += s["amount"]
            b_cr[2] += s["amount"]
            self.state[e.id] = "pending"
        else:
            pid, pamount = e.pending[0], e.pending[3]
            if self.state.get(pid) != "pending":
                return "%s %d of pending %d, which is %s" % (e.kind, e.id, pid,
                                                             self.state.get(pid, "absent"))
            b_dr[0] -= pamount
            b_cr[2] -= pamount
            if e.kind == "post":
                b_dr[1] += s["amount"]
                b_cr[3] += s["amount"]
            self.state[pid] = "posted" if e.kind == "post" else "voided"
        self.transfers[e.id] = s
        self.present_ids.append(e.id)
        return None

    def open_pendings(self):
        out = []
        for pid, st in self.state.items():
            if st == "pending":
                s = self.transfers[pid]
                out.append((pid, s["debit_account_id"], s["credit_account_id"], s["amount"]))
        return out

    def totals(self):
        t = [0, 0, 0, 0]
        for b in self.balances.values():
            for i in range(4):
                t[i] += b[i]
        return t


def field_diff(got, stored, state):
    """None when the looked-up transfer matches what was sent, else a note."""
    for k in U128_FIELDS:
        if int(got.get(k, "-1")) != stored[k]:
            return "%s is %s, sent %s" % (k, got.get(k), stored[k])
    for k in INT_FIELDS:
        if got.get(k) != stored[k]:
            return "%s is %s, sent %s" % (k, got.get(k), stored[k])
    flags = frozenset(got.get("flags", [])) - {"linked"}
    if flags != stored["flags"]:
        return "flags are %s, sent %s" % (sorted(flags), sorted(stored["flags"]))
    if int(got.get("timestamp", "0")) == 0:
        return "no timestamp"
    if "pending" in flags and got.get("pending_state") != state:
        return "pending_state is %s, expected %s" % (got.get("pending_state"), state)
    return None


# ------------------------------------------------------------------ rounds

class Counters:
    FIELDS = ("rounds", "kills", "kills_during_load", "kills_during_startup",
              "kills_during_shutdown", "clean_exits_before_kill", "requests_acked",
              "requests_refused", "requests_in_doubt", "in_doubt_present", "in_doubt_absent",
              "resent_events", "acked_transfers_checked", "old_transfers_rechecked",
              "transfers_final_checked", "losses", "duplicates", "phantoms", "partial_batches",
              "field_mismatches", "unexpected_results", "balance_mismatches", "audit_failures",
              "history_mismatches", "order_violations", "crashes", "unanswered_commits",
              "verify_runs", "verify_failures", "torn_tails_at_kill",
              "clean_stops", "clean_stop_failures", "data_dirs", "failed_rounds", "aborted_rounds")
    # Every one of these must stay 0; their sum is `violations` in the results.
    BAD = ("losses", "duplicates", "phantoms", "partial_batches", "field_mismatches",
           "unexpected_results", "balance_mismatches", "audit_failures", "history_mismatches",
           "order_violations", "crashes", "unanswered_commits", "verify_failures", "clean_stop_failures",
           "aborted_rounds")

    def violations(self):
        return sum(getattr(self, f) for f in self.BAD)

    def __init__(self):
        for f in self.FIELDS:
            setattr(self, f, 0)

    def as_dict(self):
        return {f: getattr(self, f) for f in self.FIELDS}


class Torture:
    def __init__(self, args):
        self.args = args
        self.top = tempfile.mkdtemp(prefix="quipu-torture-")
        # A private copy: a rebuild of the binary during the run must not
        # change (or briefly remove) what is being tortured.
        self.quipu = os.path.join(self.top, "quipu")
        shutil.copy2(os.path.abspath(args.quipu), self.quipu)
        # Separate streams, so that the kill schedule depends on the seed alone
        # and not on how many requests a round happened to send.
        self.rng = random.Random(args.seed)                  # kill modes and moments
        self.client_rng = random.Random(args.seed * 7919 + 1)  # per-round client seeds
        self.sample_rng = random.Random(args.seed * 7919 + 2)  # samples, pool order
        self.c = Counters()
        self.notes = []           # failure messages of the current round
        self.info = []            # other remarks on the current round
        self.failures = []        # (round, notes, data dir) of failed rounds
        self.server = None
        self.model = None
        self.key = None
        self.dir_rounds = 0
        self.dir_index = 0
        self.session = requests.Session()

    # --- helpers

    def fail(self, counter, msg, limit=5):
        setattr(self.c, counter, getattr(self.c, counter) + 1)
        if sum(1 for n in self.notes if n.startswith(counter)) < limit:
            self.notes.append("%s: %s" % (counter, msg))

    def api(self, method, path, body=None):
        r = self.session.request(method, self.server.url(path), json=body, timeout=60)
        if r.status_code != 200:
            raise Failure("%s %s answered %d: %s" % (method, path, r.status_code, r.text[:300]))
        return r.json()

    def lookup(self, ids):
        found = {}
        ids = list(ids)
        for i in range(0, len(ids), LOOKUP_IDS_MAX):
            chunk = [str(x) for x in ids[i:i + LOOKUP_IDS_MAX]]
            for t in self.api("POST", "/v1/transfers/lookup", {"ids": chunk})["transfers"]:
                found[int(t["id"])] = t
        return found

    # --- data directories

    def new_dir(self):
        self.dir_index += 1
        self.c.data_dirs += 1
        base = os.path.join(self.top, "dir%d" % self.dir_index)
        os.makedirs(base)
        data = os.path.join(base, "data")
        out = subprocess.run([self.quipu, "keys", "create", "--data", data, "--name", "torture",
                              "--scope", "ledger:read,ledger:write"],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0 or not out.stdout.strip().startswith("qpk_"):
            raise SystemExit("torture: cannot create a key: %s" % out.stderr)
        self.key = out.stdout.strip()
        self.session.headers["Authorization"] = "Bearer " + self.key
        self.server = Server(self.quipu, data, base)
        self.server.start()
        accounts = [ACCOUNT_BASE + i for i in range(ACCOUNT_COUNT)]
        body = [{"id": str(a), "ledger": LEDGER, "code": CODE,
                 "flags": ["history"] if i < HISTORY_ACCOUNTS else []}
                for i, a in enumerate(accounts)]
        r = self.api("POST", "/v1/accounts", body)
        if [x["result"] for x in r["results"]] != ["ok"] * len(accounts):
            raise Failure("creating accounts: %s" % r)
        self.model = Model(accounts)
        self.ts_max = 0           # the latest transfer timestamp seen in this directory
        self.ids = itertools.count(1 << 40)
        self.dir_rounds = 0

    def close_dir(self):
        """A clean stop, then the full check: every transfer, verify's totals.
        The directory is removed when all held, else kept (self.server stays)."""
        self.check_all_transfers()
        rc = self.server.stop()
        log = self.server.read_log()
        if rc != 0 or "stopped cleanly" not in log:
            self.fail("clean_stop_failures", "SIGTERM exit %s; log:\n%s" % (rc, self.server.log_tail()))
        else:
            self.c.clean_stops += 1
        self.verify_exact()
        if not self.notes:
            shutil.rmtree(os.path.dirname(self.server.data_dir), ignore_errors=True)
            self.server = None

    def check_all_transfers(self):
        found = self.lookup(self.model.present_ids)
        for id_ in self.model.present_ids:
            got = found.get(id_)
            s = self.model.transfers[id_]
            if got is None:
                self.fail("losses", "transfer %d missing at the final check" % id_)
                continue
            d = field_diff(got, s, self.model.state.get(id_))
            if d:
                self.fail("field_mismatches", "transfer %d: %s" % (id_, d))
        self.c.transfers_final_checked += len(self.model.present_ids)

    def verify_exact(self):
        rc, transfers, out = run_verify(self.quipu, self.server.data_dir)
        self.c.verify_runs += 1
        if rc != 0:
            self.fail("verify_failures", "verify exit %d after a clean stop:\n%s" % (rc, out[-1500:]))
            return
        if transfers != len(self.model.transfers):
            self.fail("verify_failures", "verify replays %s transfers, the model holds %d"
                      % (transfers, len(self.model.transfers)))
        t = self.model.totals()
        want = "debits_posted %d = credits_posted %d; debits_pending %d = credits_pending %d" % (
            t[1], t[3], t[0], t[2])
        if "ledger %d: %d accounts; %s" % (LEDGER, ACCOUNT_COUNT, want) not in out:
            self.fail("verify_failures", "verify totals differ from the model (%s):\n%s" % (want, out))

    # --- one round

    def run_round(self, n):
        args = self.args
        self.notes = []
        self.info = []
        self.c.rounds += 1
        if self.server is not None and self.dir_rounds >= args.rounds_per_dir:
            self.close_dir()
            if self.notes:
                raise Failure("closing the data directory: " + "; ".join(self.notes))
        if self.server is None:
            self.new_dir()
        self.dir_rounds += 1
        t0 = time.time()
        known = len(self.model.transfers)
        r = self.rng.random()
        if n > 1 and r < args.startup_kill_rate:
            mode = "startup"
        elif r < args.startup_kill_rate + args.shutdown_kill_rate:
            mode = "drain"
        else:
            mode = "load"
        requests_log = []
        if mode == "startup":
            delay_ms = self.rng.uniform(0, 40)
            self.server.kill9()           # the idle server the previous round left (not counted)
            self.server.spawn()
            time.sleep(delay_ms / 1000)
            hit = self.server.kill9()
            self.c.kills_during_startup += hit
            if not hit:
                self.fail("crashes", "the server exited by itself while starting, status %s:\n%s"
                          % (self.server.proc.returncode, self.server.log_tail()))
        else:
            delay_ms = self.rng.uniform(args.load_ms_min, args.load_ms_max)
            term_ms = self.rng.uniform(0, 10) if mode == "drain" else None
            requests_log, hit = self.load_then_kill(delay_ms, term_ms)
            rc = self.server.proc.returncode
            if mode == "drain":
                self.c.kills_during_shutdown += hit
                self.c.clean_exits_before_kill += not hit and rc == 0
            else:
                self.c.kills_during_load += hit
            if not hit and (mode == "load" or rc != 0):
                self.fail("crashes", "the server exited by itself under load, status %s:\n%s"
                          % (rc, self.server.log_tail()))
        self.c.kills += hit
        acked_ok = sum(r.results.count("ok") for r in requests_log if r.outcome == "acked")
        could_be = sum(len(r.events) for r in requests_log if r.outcome == "indoubt")
        torn = self.verify_crashed(known + acked_ok, known + acked_ok + could_be)
        self.server.start()
        if torn:
            self.after_torn_tail()
        summary = self.check_round(n, requests_log, clean_exit=mode == "drain" and not hit)
        dt = time.time() - t0
        ok = not self.notes
        if not ok:
            self.c.failed_rounds += 1
            self.failures.append((n, list(self.notes), self.server.data_dir))
        print("round %4d kill %4d/%d %-7s @%4.0fms  req %4d acked %5d in-doubt %d (%s)  %s  %.2fs"
              % (n, self.c.kills, args.kills, mode, delay_ms, len(requests_log), acked_ok,
                 sum(1 for r in requests_log if r.outcome == "indoubt"), summary,
                 "ok" if ok else "FAIL", dt), flush=True)
        for note in self.info + self.notes:
            print("    " + note.replace("\n", "\n    "), flush=True)
        if not ok:
            # The model may no longer match the directory: keep it and go on in a fresh one.
            print("    data directory kept: %s" % self.server.data_dir, flush=True)
            self.server.kill9()
            self.server = None
        return ok

    def load_then_kill(self, delay_ms, term_ms):
        """Load for delay_ms, then SIGKILL (after a SIGTERM and term_ms more
        when term_ms is given: a kill while the server drains).  Returns the
        requests sent and whether the SIGKILL hit a live process."""
        pool = self.model.open_pendings()
        self.sample_rng.shuffle(pool)
        workload = Workload(self.model.accounts, self.ids, pool, threading.Lock())
        log, log_lock = [], threading.Lock()
        seqs = itertools.count()
        clients = [Client(self.server.url("/v1/transfers"), self.key, workload,
                          random.Random(self.client_rng.getrandbits(64)), seqs, log, log_lock)
                   for _ in range(self.args.clients)]
        for cl in clients:
            cl.start()
        time.sleep(delay_ms / 1000)
        if term_ms is not None:
            self.server.term()
            time.sleep(term_ms / 1000)
        hit = self.server.kill9()
        for cl in clients:
            cl.join(timeout=REQUEST_TIMEOUT_S + 10)
            if cl.is_alive():
                raise Failure("a client thread did not finish after the kill")
        log.sort(key=lambda r: r.seq)
        for r in log:
            if r.outcome is None:
                raise Failure("a request without an outcome")
        self.c.requests_acked += sum(1 for r in log if r.outcome == "acked")
        self.c.requests_refused += sum(1 for r in log if r.outcome == "refused")
        self.c.requests_in_doubt += sum(1 for r in log if r.outcome == "indoubt")
        return log, hit

    def verify_crashed(self, at_least, at_most):
        """verify on the killed directory; True when it found a torn tail."""
        rc, transfers, out = run_verify(self.quipu, self.server.data_dir)
        self.c.verify_runs += 1
        if rc != 0 and re.search(r"\btorn\b", out):
            self.c.torn_tails_at_kill += 1
            m = re.search(r"verify: FAILED: (.*)", out)
            self.info.append("torn tail after the kill (allowed; the restart must cut it): %s"
                             % (m.group(1) if m else out.strip().splitlines()[-1]))
            return True
        if rc != 0:
            self.fail("verify_failures", "verify exit %d on the crashed directory:\n%s" % (rc, out[-1500:]))
        elif transfers is None or not at_least <= transfers <= at_most:
            self.fail("verify_failures", "verify replays %s transfers; between %d and %d expected"
                      % (transfers, at_least, at_most))
        return False

    def after_torn_tail(self):
        """The restart must have cut the tail; verify passes after a clean stop."""
        if "truncated a torn tail" not in self.server.read_log():
            self.fail("verify_failures", "verify saw a torn tail the restart did not report")
        rc = self.server.stop()
        if rc != 0:
            self.fail("clean_stop_failures", "SIGTERM exit %s" % rc)
        rc, _, out = run_verify(self.quipu, self.server.data_dir)
        self.c.verify_runs += 1
        if rc != 0:
            self.fail("verify_failures", "verify exit %d after recovering a torn tail:\n%s" % (rc, out[-1500:]))
        self.server.start()

    # --- the checks after a restart

    def check_round(self, n, log, clean_exit):
        m = self.model
        ids = [e.id for r in log for e in r.events]
        found = self.lookup(ids)
        present_batches = absent_batches = 0
        indoubt = []
        for r in log:
            if r.outcome == "acked":
                self.check_acked(r, found)
            elif r.outcome == "refused":
                for e in r.events:
                    if e.id in found:
                        self.fail("phantoms", "transfer %d of a request refused with %d %s is present"
                                  % (e.id, r.status, r.error))
            else:
                present = self.check_indoubt(r, found)
                indoubt.append((r, present))
                if present and clean_exit:
                    # SIGTERM promises to answer everything it commits.
                    self.fail("unanswered_commits", "request %d was committed but not answered, "
                              "and the server exited 0" % r.seq)
                if present:
                    present_batches += 1
                else:
                    absent_batches += 1
        self.c.in_doubt_present += present_batches
        self.c.in_doubt_absent += absent_batches
        # Fields (and pending states, now final for this round) of every present one.
        for r in log:
            for e in r.events:
                got = found.get(e.id)
                if got is not None and e.id in m.transfers:
                    d = field_diff(got, e.stored, m.state.get(e.id))
                    if d:
                        self.fail("field_mismatches", "transfer %d: %s" % (e.id, d))
        resent_found = self.resend(indoubt)
        self.check_timestamps(log, found, resent_found)
        self.check_balances_and_audit()
        self.check_history()
        self.recheck_old(set(ids))
        return "present %d absent %d" % (present_batches, absent_batches)

    def check_acked(self, r, found):
        if len(r.results) != len(r.events):
            self.fail("unexpected_results", "%d results for %d events" % (len(r.results), len(r.events)))
            return
        for e, res in zip(r.events, r.results):
            if res != e.expect:
                self.fail("unexpected_results", "transfer %d answered %s, the model predicts %s"
                          % (e.id, res, e.expect))
            if res == "ok":
                self.c.acked_transfers_checked += 1
                if e.id not in found:
                    self.fail("losses", "acknowledged transfer %d is missing after the restart" % e.id)
                    continue
                if e.stored is None:
                    continue
                err = self.model.apply(e)
                if err:
                    self.fail("unexpected_results", err)
            elif e.id in found:
                self.fail("phantoms", "transfer %d answered %s but is present" % (e.id, res))

    def check_indoubt(self, r, found):
        """True when the batch is present.  It must be all there or not at all."""
        should = [e for e in r.events if e.expect == "ok"]
        never = [e for e in r.events if e.expect != "ok"]
        there = [e for e in should if e.id in found]
        for e in never:
            if e.id in found:
                self.fail("phantoms", "transfer %d (a failing chain) is present" % e.id)
        if there and len(there) != len(should):
            self.fail("partial_batches", "in-doubt batch of %d: %d of %d transfers present"
                      % (len(r.events), len(there), len(should)))
        for e in there:
            err = self.model.apply(e)
            if err:
                self.fail("unexpected_results", err)
        return bool(there)

    def resend(self, indoubt):
        """Re-sends every in-doubt batch as is: a client retrying after a timeout.
        Returns the lookups of the re-sent transfers that must be present now."""
        must = []
        for r, present in indoubt:
            body = [e.body for e in r.events]
            res = [row["result"] for row in self.api("POST", "/v1/transfers", body)["results"]]
            self.c.resent_events += len(r.events)
            for e, got in zip(r.events, res):
                if e.expect != "ok":
                    want = e.expect
                elif present:
                    want = "exists" if e.chain_pos in (None, 0) else "linked_event_failed"
                else:
                    want = "ok"
                if got == want:
                    if got == "ok":
                        err = self.model.apply(e)
                        if err:
                            self.fail("unexpected_results", err)
                    if e.expect == "ok":
                        must.append(e)
                    continue
                if got == "ok" and present:
                    self.fail("duplicates", "re-sent transfer %d was present and answered ok" % e.id)
                else:
                    self.fail("unexpected_results", "re-sent transfer %d answered %s, expected %s"
                              % (e.id, got, want))
        found = self.lookup([e.id for e in must])
        for e in must:
            got = found.get(e.id)
            if got is None:
                self.fail("losses", "re-sent transfer %d is missing" % e.id)
                continue
            d = field_diff(got, e.stored, self.model.state.get(e.id))
            if d:
                self.fail("field_mismatches", "re-sent transfer %d: %s" % (e.id, d))
        return found

    def check_timestamps(self, log, found, resent_found):
        """Timestamps are unique and strictly increasing across all events, kills
        included: this round's transfers all come after every earlier one, and a
        request sent after another was answered has only later timestamps."""
        ts_round = [int(t["timestamp"]) for t in found.values()]
        if ts_round and min(ts_round) <= self.ts_max:
            self.fail("order_violations", "a transfer of this round has timestamp %d, not after %d "
                      "(the last one before the kill)" % (min(ts_round), self.ts_max))
        ts_all = ts_round + [int(t["timestamp"]) for i, t in resent_found.items() if i not in found]
        if len(set(ts_all)) != len(ts_all):
            self.fail("order_violations", "%d transfers share a timestamp" % (len(ts_all) - len(set(ts_all))))
        spans = []
        for r in log:
            if r.outcome != "acked":
                continue
            ts = [int(found[e.id]["timestamp"]) for e in r.events if e.id in found]
            if ts:
                spans.append((r.sent_at, r.answered_at, min(ts), max(ts), r.seq))
        by_answer = sorted(spans, key=lambda x: x[1])
        i, done_max, done_seq = 0, 0, None
        for sent_at, _, ts_min, _, seq in sorted(spans, key=lambda x: x[0]):
            while i < len(by_answer) and by_answer[i][1] < sent_at:
                if by_answer[i][3] > done_max:
                    done_max, done_seq = by_answer[i][3], by_answer[i][4]
                i += 1
            if ts_min <= done_max:
                self.fail("order_violations", "request %d was sent after request %d was answered but "
                          "has an earlier timestamp (%d <= %d)" % (seq, done_seq, ts_min, done_max))
        if ts_all:
            self.ts_max = max(self.ts_max, max(ts_all))

    def check_balances_and_audit(self):
        m = self.model
        got = self.api("POST", "/v1/accounts/lookup", {"ids": [str(a) for a in m.accounts]})["accounts"]
        if len(got) != len(m.accounts):
            self.fail("balance_mismatches", "%d of %d accounts found" % (len(got), len(m.accounts)))
        for a in got:
            want = m.balances[int(a["id"])]
            have = [int(a["debits_pending"]), int(a["debits_posted"]),
                    int(a["credits_pending"]), int(a["credits_posted"])]
            if have != want:
                self.fail("balance_mismatches", "account %s has (dpe,dpo,cpe,cpo) %s, the present "
                          "transfers sum to %s" % (a["id"], have, want))
        audit = self.api("GET", "/v1/audit")
        if audit.get("invariant_ok") is not True or audit.get("stopped") is not False:
            self.fail("audit_failures", "audit: %s" % json.dumps(audit)[:400])
        if int(audit.get("transfers", -1)) != len(m.transfers):
            n = int(audit.get("transfers", -1))
            counter = "duplicates" if n > len(m.transfers) else "losses"
            self.fail(counter, "the audit counts %d transfers, the model %d" % (n, len(m.transfers)))
        if int(audit.get("accounts", -1)) != len(m.accounts):
            self.fail("audit_failures", "the audit counts %s accounts" % audit.get("accounts"))

    def check_history(self):
        """The history index (rebuilt by replay after a crash) ends at the account."""
        for a in self.model.accounts[:HISTORY_ACCOUNTS]:
            rows = self.api("GET", "/v1/accounts/%d/balances?reversed=true&limit=1" % a)["balances"]
            b = self.model.balances[a]
            if not rows:
                if b != [0, 0, 0, 0]:
                    self.fail("history_mismatches", "account %d has no history rows" % a)
                continue
            have = [int(rows[0][k]) for k in ("debits_pending", "debits_posted",
                                              "credits_pending", "credits_posted")]
            if have != b:
                self.fail("history_mismatches", "account %d: last history row %s, balances %s"
                          % (a, have, b))

    def recheck_old(self, this_round):
        m = self.model
        older = len(m.present_ids) - len(this_round)
        if older <= 0:
            return
        pick = [m.present_ids[self.sample_rng.randrange(len(m.present_ids))] for _ in range(SAMPLE_OLD_MAX)]
        pick = [i for i in set(pick) if i not in this_round]
        found = self.lookup(pick)
        for id_ in pick:
            if id_ not in found:
                self.fail("losses", "transfer %d (an earlier round) is missing" % id_)
                continue
            d = field_diff(found[id_], m.transfers[id_], m.state.get(id_))
            if d:
                self.fail("field_mismatches", "transfer %d (an earlier round): %s" % (id_, d))
        self.c.old_transfers_rechecked += len(pick)

    # --- the whole run

    def run(self):
        t0 = time.time()
        args = self.args
        print("torture: %d kills, seed %d, %d clients, load %d-%d ms, %d rounds per data directory, "
              "under %s" % (args.kills, args.seed, args.clients, args.load_ms_min, args.load_ms_max,
                            args.rounds_per_dir, self.top), flush=True)
        n = 0
        # Count kills, not rounds: a SIGTERM may win the race against its SIGKILL.
        while self.c.kills < args.kills and n < 2 * args.kills:
            n += 1
            try:
                self.run_round(n)
            except (Failure, requests.RequestException, OSError, subprocess.SubprocessError) as e:
                self.c.failed_rounds += 1
                self.c.aborted_rounds += 1
                self.notes.append("round aborted: %s" % e)
                kept = self.server.data_dir if self.server else "-"
                self.failures.append((n, list(self.notes), kept))
                print("round %4d FAIL: %s\n    data directory kept: %s" % (n, e, kept),
                      flush=True)
                if self.server is not None:
                    self.server.kill9()
                self.server = None
        if self.server is not None:
            self.notes = []
            try:
                self.close_dir()
            except (Failure, requests.RequestException, OSError, subprocess.SubprocessError) as e:
                self.c.aborted_rounds += 1
                self.notes.append("final check aborted: %s" % e)
            if self.notes:
                self.c.failed_rounds += 1
                kept = self.server.data_dir if self.server else "-"
                self.failures.append(("final", list(self.notes), kept))
                for note in self.notes:
                    print("final check: " + note, flush=True)
        duration = time.time() - t0
        self.report(duration)
        if not self.failures:
            shutil.rmtree(self.top, ignore_errors=True)
        return 0 if not self.failures else 1

    def report(self, duration):
        c = self.c
        rows = [
            ("rounds", c.rounds),
            ("kills (SIGKILL)", c.kills),
            ("  during load", c.kills_during_load),
            ("  during startup/recovery", c.kills_during_startup),
            ("  while draining after SIGTERM", c.kills_during_shutdown),
            ("SIGTERM exits that beat the SIGKILL", c.clean_exits_before_kill),
            ("requests acknowledged / refused / in doubt", "%d / %d / %d" % (
                c.requests_acked, c.requests_refused, c.requests_in_doubt)),
            ("in-doubt batches found present / absent", "%d / %d" % (c.in_doubt_present,
                                                                     c.in_doubt_absent)),
            ("in-doubt events re-sent", c.resent_events),
            ("acknowledged transfers checked after restart", c.acked_transfers_checked),
            ("older transfers re-checked (samples)", c.old_transfers_rechecked),
            ("transfers checked at directory close", c.transfers_final_checked),
            ("losses", c.losses),
            ("duplicates", c.duplicates),
            ("phantoms", c.phantoms),
            ("partial batches", c.partial_batches),
            ("field mismatches", c.field_mismatches),
            ("unexpected results", c.unexpected_results),
            ("balance mismatches", c.balance_mismatches),
            ("audit failures", c.audit_failures),
            ("history mismatches", c.history_mismatches),
            ("timestamp order violations", c.order_violations),
            ("server crashes (exits nobody asked for)", c.crashes),
            ("commits left unanswered by a clean SIGTERM exit", c.unanswered_commits),
            ("rounds aborted (a check could not run)", c.aborted_rounds),
            ("verify runs", c.verify_runs),
            ("verify failures", c.verify_failures),
            ("torn tails seen by verify after a kill", c.torn_tails_at_kill),
            ("clean SIGTERM stops / failures", "%d / %d" % (c.clean_stops, c.clean_stop_failures)),
            ("data directories", c.data_dirs),
            ("duration", "%.1f s" % duration),
        ]
        width = max(len(r[0]) for r in rows)
        print()
        print("%-*s  %s" % (width, "torture (seed %d)" % self.args.seed, "value"))
        print("%s  %s" % ("-" * width, "-" * 12))
        for name, value in rows:
            print("%-*s  %s" % (width, name, value))
        for n, notes, kept in self.failures:
            print("FAILED round %s (data kept in %s):" % (n, kept))
            for note in notes:
                print("    " + note.replace("\n", "\n    "))
        if self.failures:
            print("replay: /usr/bin/python3 tests/torture/torture.py --kills %d --seed %d --quipu %s"
                  % (self.args.kills, self.args.seed, self.args.quipu))
        result = dict(c.as_dict(), violations=c.violations(), seed=self.args.seed,
                      clients=self.args.clients, startup_kill_rate=self.args.startup_kill_rate,
                      shutdown_kill_rate=self.args.shutdown_kill_rate,
                      load_ms_min=self.args.load_ms_min, load_ms_max=self.args.load_ms_max,
                      rounds_per_dir=self.args.rounds_per_dir, duration_s=round(duration, 2),
                      passed=c.rounds - sum(1 for f in self.failures if f[0] != "final"),
                      failed=len(self.failures), ok=not self.failures,
                      finished_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        if self.args.json:
            os.makedirs(os.path.dirname(os.path.abspath(self.args.json)), exist_ok=True)
            tmp = self.args.json + ".tmp"
            with open(tmp, "w") as f:
                json.dump(result, f, indent=2, sort_keys=True)
                f.write("\n")
            os.replace(tmp, self.args.json)
        print("torture: %d passed, %d failed" % (result["passed"], result["failed"]), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kills", type=int, default=200, help="rounds, one SIGKILL each (default 200)")
    p.add_argument("--seed", type=int, default=None, help="default: random, printed")
    p.add_argument("--quipu", default=os.path.join(ROOT, "build", "quipu"))
    p.add_argument("--clients", type=int, default=4, help="concurrent client threads (default 4)")
    p.add_argument("--load-ms-min", type=int, default=40)
    p.add_argument("--load-ms-max", type=int, default=400)
    p.add_argument("--startup-kill-rate", type=float, default=0.1,
                   help="share of rounds that kill the server while it starts (default 0.1)")
    p.add_argument("--shutdown-kill-rate", type=float, default=0.1,
                   help="share of rounds that send SIGTERM under load and SIGKILL 0-10 ms later")
    p.add_argument("--rounds-per-dir", type=int, default=25,
                   help="rounds before the data directory is closed, checked in full and replaced")
    p.add_argument("--json", default=os.path.join(ROOT, "build", "drills", "torture.json"),
                   help="results file ('' for none)")
    args = p.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 1 << 31)
    if args.kills < 1 or args.clients < 1 or args.load_ms_min > args.load_ms_max:
        p.error("bad --kills, --clients or --load-ms range")
    if not os.access(args.quipu, os.X_OK):
        p.error("no binary at %s: run `make` first" % args.quipu)
    t = Torture(args)
    try:
        rc = t.run()
    finally:
        if t.server is not None and t.server.proc is not None and t.server.proc.poll() is None:
            t.server.kill9()
    sys.exit(rc)


if __name__ == "__main__":
    main()
