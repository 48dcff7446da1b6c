"""The bank test's moving parts (test_bank.py): movers that shift money among
accounts with balance limits, readers that check every snapshot of the
balances, and a nemesis that kills the server with SIGKILL and restarts it.

The invariant, exactly.  Let B be the N bank accounts (each with
`debits_must_not_exceed_credits`) and s the source account, which funds every
account of B with F once at the start and is never touched again.  Every
posted amount is added to one account's debits_posted and another's
credits_posted, every pending amount to one debits_pending and one
credits_pending.  So, in every snapshot the server returns:

  (1) sum over B of (credits_posted - debits_posted) = N * F  - the money in
      the bank never changes, however it moves, whatever is killed;
  (2) sum over B and s of (credits_posted - debits_posted) = 0, and s has
      debits_posted = N * F, credits_posted = 0 (nothing leaks to the source);
  (3) sum over B and s of (credits_pending - debits_pending) = 0;
  (4) for each account of B: debits_pending + debits_posted <= credits_posted
      (its limit), so no balance goes below zero.

A lookup of all accounts is one snapshot: the server reads them under one
lock, and only ever shows batches that are already durable.  The latter gives
one more check across kills: the audit's transfer count, once seen, never goes
back (a read that completed before a read was sent bounds it from below).
"""
import os
import random
import re
import shutil
import threading
import time

import requests

from conftest import quipu

SLEEP_WHEN_DOWN_S = 0.02


class Stats:
    """Counters shared by every thread (one lock)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reads_checked = 0
        self.reads_failed = 0
        self.audit_reads_checked = 0
        self.transfers_acknowledged = 0      # ok, on the first send or a re-send
        self.transfers_exceeds_credits = 0   # refused by a balance limit (expected)
        self.transfers_other_results = {}    # code -> count (linked_event_failed, ...)
        self.requests_sent = 0
        self.requests_in_doubt = 0
        self.requests_resent = 0
        self.kills = 0
        self.verify_runs = 0
        self.violations = {}                 # kind -> count
        self.violation_notes = []            # the first few, for humans
        self.acked_ids = []                  # every acknowledged transfer id
        self.transfers_max_seen = 0          # highest audit transfer count of a completed read
        self.stale_reads = 0                 # audits below that count (when tolerated)

    def violation(self, kind, note):
        with self.lock:
            self.violations[kind] = self.violations.get(kind, 0) + 1
            if len(self.violation_notes) < 20:
                self.violation_notes.append("%s: %s" % (kind, note))

    def add(self, name, n=1):
        with self.lock:
            setattr(self, name, getattr(self, name) + n)

    def result(self, code):
        with self.lock:
            self.transfers_other_results[code] = self.transfers_other_results.get(code, 0) + 1


class Bank:
    """The accounts and the server they live on; `up` is set while it runs."""

    def __init__(self, server, key, ledger, source, accounts, funding):
        self.server, self.key, self.ledger = server, key, ledger
        self.source, self.accounts, self.funding = source, accounts, funding
        self.up = threading.Event()
        self.stale_reads_are_violations = True  # an audit going back is a violation
        self.stop = threading.Event()
        self.stats = Stats()

    def session(self):
        s = requests.Session()
        s.headers["Authorization"] = "Bearer " + self.key
        return s

    def url(self, path):
        return self.server.url(path)

    def request(self, session, method, path, **kw):
        """One request to the server; raises requests.RequestException when no
        answer came (a cluster's bank also raises on a redirect or no leader)."""
        return session.request(method, self.url(path), **kw)

    def check_snapshot(self, rows, where):
        """Checks (1)-(4) on one lookup of every account; returns the number of
        violations found."""
        st = self.stats
        found = {int(a["id"]): a for a in rows}
        want = [self.source] + self.accounts
        if sorted(found) != sorted(want):
            st.violation("missing_account", "%s: lookup returned %d of %d accounts"
                         % (where, len(found), len(want)))
            return 1
        bal = {i: (int(a["debits_pending"]), int(a["debits_posted"]),
                   int(a["credits_pending"]), int(a["credits_posted"])) for i, a in found.items()}
        bad = 0
        bank_total = sum(b[3] - b[1] for i, b in bal.items() if i != self.source)
        if bank_total != len(self.accounts) * self.funding:
            st.violation("total_changed", "%s: money in the bank is %d, not %d"
                         % (where, bank_total, len(self.accounts) * self.funding))
            bad += 1
        src = bal[self.source]
        if src != (0, len(self.accounts) * self.funding, 0, 0) or sum(b[3] - b[1] for b in bal.values()):
            st.violation("total_changed", "%s: source account is %s" % (where, src))
            bad += 1
        if sum(b[2] - b[0] for b in bal.values()) != 0:
            st.violation("pending_unbalanced", "%s: pending credits %d != pending debits %d"
                         % (where, sum(b[2] for b in bal.values()), sum(b[0] for b in bal.values())))
            bad += 1
        for i in self.accounts:
            dpe, dpo, _, cpo = bal[i]
            if dpe + dpo > cpo:
                st.violation("limit_broken", "%s: account %d debits %d + %d > credits %d"
                             % (where, i, dpe, dpo, cpo))
                bad += 1
        return bad


class Mover(threading.Thread):
    """Moves money among the bank accounts in batches of 1..16 operations:
    single transfers, linked pairs (a->b, b->c: both or neither), pending
    transfers later posted (in full or in part) or voided, pending transfers
    left to time out, and `balancing_debit` transfers that take whatever an
    account has left.  A request that got no answer (the server was killed)
    is re-sent once, as is, when the server is back: ids are idempotency keys."""

    def __init__(self, bank, rng, ids):
        super().__init__(daemon=True)
        self.bank, self.rng, self.ids = bank, rng, ids
        self.session = bank.session()
        self.pendings = []      # (id, amount) of this mover's acknowledged open pending transfers
        self.error = None

    def run(self):
        try:
            while not self.bank.stop.is_set():
                if not self.bank.up.wait(timeout=0.5):
                    continue
                self.send(self.batch())
        except Exception as e:   # surfaced by the test
            self.error = e
            raise

    def transfer(self, debit, credit, amount, flags=(), **extra):
        t = {"id": str(next(self.ids)), "debit_account_id": str(debit),
             "credit_account_id": str(credit), "amount": str(amount),
             "ledger": self.bank.ledger, "code": 1, "flags": list(flags)}
        t.update(extra)
        return t

    def batch(self):
        rng, accts, f = self.rng, self.bank.accounts, self.bank.funding
        out = []
        for _ in range(rng.randint(1, 16)):
            r = rng.random()
            a, b, c = rng.sample(accts, 3)
            amount = rng.randint(1, f // 20)
            if r < 0.45:
                out.append(self.transfer(a, b, amount))
            elif r < 0.6:
                out.append(self.transfer(a, b, amount, ["linked"]))
                out.append(self.transfer(b, c, rng.randint(1, f // 20)))
            elif r < 0.75:
                out.append(self.transfer(a, b, amount, ["pending"]))
            elif r < 0.9 and self.pendings:
                pid, pamount = self.pendings.pop(rng.randrange(len(self.pendings)))
                kind = rng.random()
                body = {"id": str(next(self.ids)), "pending_id": str(pid)}
                if kind < 0.4:
                    body["flags"] = ["post_pending_transfer"]
                elif kind < 0.7:
                    body["flags"] = ["post_pending_transfer"]
                    body["amount"] = str(rng.randint(1, pamount))
                else:
                    body["flags"] = ["void_pending_transfer"]
                out.append(body)
            elif r < 0.95:
                out.append(self.transfer(a, b, rng.randint(1, f // 40), ["pending"], timeout=1))
            else:
                out.append(self.transfer(a, b, f // 4, ["balancing_debit"]))
        return out

    def post(self, body):
        """The results, or None when no answer came (in doubt)."""
        self.bank.stats.add("requests_sent")
        try:
            r = self.bank.request(self.session, "POST", "/v1/transfers", json=body, timeout=30)
        except requests.RequestException:
            return None
        if r.status_code != 200:
            # A server that is being killed may answer nothing, never an error.
            self.bank.stats.violation("unexpected_status", "%d %s" % (r.status_code, r.text[:200]))
            return []
        return [row["result"] for row in r.json()["results"]]

    def send(self, body):
        results = self.post(body)
        if results is None:
            self.bank.stats.add("requests_in_doubt")
            while not self.bank.stop.is_set() and not self.bank.up.wait(timeout=0.5):
                pass
            # Wait for the restart the nemesis is doing (up is cleared before the kill).
            deadline = time.time() + 30
            while not self.bank.stop.is_set() and time.time() < deadline:
                if self.bank.up.is_set():
                    results = self.post(body)
                    if results is not None:
                        self.bank.stats.add("requests_resent")
                        break
                time.sleep(SLEEP_WHEN_DOWN_S)
            if results is None:
                return
        self.tally(body, results, resent=False)

    ALLOWED = {"ok", "exists", "exceeds_credits", "linked_event_failed",
               "pending_transfer_expired"}

    def tally(self, body, results, resent):
        st = self.bank.stats
        for t, res in zip(body, results):
            if res in ("ok", "exists"):
                with st.lock:
                    st.transfers_acknowledged += 1
                    st.acked_ids.append(int(t["id"]))
                if "pending" in t.get("flags", []) and "timeout" not in t:
                    self.pendings.append((int(t["id"]), int(t["amount"])))
            elif res == "exceeds_credits":
                st.add("transfers_exceeds_credits")
            else:
                st.result(res)
                if res not in self.ALLOWED:
                    st.violation("unexpected_result", "transfer %s answered %s" % (t["id"], res))


class Reader(threading.Thread):
    """Reads every account in one lookup, again and again, and checks the
    snapshot; every 8th read also reads the audit: its invariant must hold and
    its transfer count must not be below any count a read that had completed
    before this one was sent saw (durable reads survive the kill)."""

    def __init__(self, bank):
        super().__init__(daemon=True)
        self.bank = bank
        self.session = bank.session()
        self.ids = {"ids": [str(i) for i in [bank.source] + bank.accounts]}
        self.error = None

    def run(self):
        n = 0
        try:
            while not self.bank.stop.is_set():
                if not self.bank.up.wait(timeout=0.5):
                    continue
                n += 1
                if n % 8 == 0:
                    self.read_audit()
                else:
                    self.read_balances()
        except Exception as e:
            self.error = e
            raise

    def read_balances(self):
        st = self.bank.stats
        try:
            r = self.bank.request(self.session, "POST", "/v1/accounts/lookup", json=self.ids,
                                  timeout=10)
        except requests.RequestException:
            st.add("reads_failed")
            time.sleep(SLEEP_WHEN_DOWN_S)
            return
        if r.status_code != 200:
            st.violation("unexpected_status", "lookup: %d %s" % (r.status_code, r.text[:200]))
            return
        self.bank.check_snapshot(r.json()["accounts"], "read")
        st.add("reads_checked")

    def read_audit(self):
        st = self.bank.stats
        with st.lock:
            floor = st.transfers_max_seen
        try:
            r = self.bank.request(self.session, "GET", "/v1/audit", timeout=10)
        except requests.RequestException:
            st.add("reads_failed")
            time.sleep(SLEEP_WHEN_DOWN_S)
            return
        if r.status_code != 200:
            st.violation("unexpected_status", "audit: %d %s" % (r.status_code, r.text[:200]))
            return
        a = r.json()
        n = int(a["transfers"])
        if a.get("invariant_ok") is not True:
            st.violation("audit_invariant", "audit: %s" % a)
        if n < floor and not self.bank.stale_reads_are_violations:
            st.add("stale_reads")
        elif n < floor:
            st.violation("stale_read", "the audit counts %d transfers; an earlier read saw %d" % (n, floor))
        with st.lock:
            st.transfers_max_seen = max(st.transfers_max_seen, n)
            st.audit_reads_checked += 1


class Nemesis(threading.Thread):
    """Kills the server with SIGKILL `kills` times at seeded random moments;
    while it is down runs `quipu verify` on the crashed directory (it must pass,
    or name a torn tail that the restart then cuts), then restarts it."""

    def __init__(self, bank, rng, kills, gap_s, down_s):
        super().__init__(daemon=True)
        self.bank, self.rng, self.kills = bank, rng, kills
        self.gap_s, self.down_s = gap_s, down_s
        self.error = None
        self.torn = 0

    def run(self):
        try:
            for _ in range(self.kills):
                if self.bank.stop.wait(self.rng.uniform(*self.gap_s)):
                    return
                self.kill_and_restart()
        except Exception as e:
            self.error = e
            raise

    def kill_and_restart(self):
        bank, st = self.bank, self.bank.stats
        bank.up.clear()
        bank.server.kill9()
        st.add("kills")
        t0 = time.time()
        r = quipu("verify", "--data", bank.server.data_dir, check=False)
        st.add("verify_runs")
        torn = r.returncode != 0 and re.search(r"\btorn\b", r.stdout + r.stderr)
        if r.returncode != 0 and not torn:
            st.violation("verify_failed", "after a kill: " + (r.stdout + r.stderr)[-600:])
        time.sleep(max(0.0, self.rng.uniform(*self.down_s) - (time.time() - t0)))
        bank.server.start()
        if torn:
            self.torn += 1
            if "truncated a torn tail" not in bank.server.read_log():
                st.violation("verify_failed", "verify saw a torn tail the restart did not cut")
        bank.up.set()


def private_binary(tmp_dir, path):
    """A copy of the binary, so that a rebuild during the test cannot touch it."""
    dst = os.path.join(tmp_dir, "quipu")
    shutil.copy2(path, dst)
    return dst


def seed_from_env():
    s = os.environ.get("BANK_SEED")
    return int(s) if s else random.SystemRandom().randrange(1, 1 << 31)
