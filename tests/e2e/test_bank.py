"""The bank test (Jepsen-style; issue 5, part 3).

Eight accounts with `debits_must_not_exceed_credits` are funded with F each
from one source.  Movers shift money among them (single transfers, linked
pairs, pending transfers posted in full or in part or voided, pending
transfers left to time out, balancing debits) while a nemesis kills the server
with SIGKILL and restarts it; readers check every snapshot of all balances:
the money in the bank stays N * F, nothing leaks to the source, pending debits
equal pending credits, and no account's debits exceed its credits (the exact
invariant is in bank_util.py).  At the end every acknowledged transfer must be
present, the server must stop cleanly and `quipu verify` must pass.

Prints reads checked, violations, kills and transfers (visible with -s) and
writes them to build/drills/bank.json (fields in docs/drills-torture.md).
BANK_SEED=… replays a seed's choices (the timing is the machine's own).
"""
import itertools
import json
import os
import random
import time

import conftest
from bank_util import Bank, Mover, Nemesis, Reader, private_binary, seed_from_env
from conftest import ROOT, Api, Server, accounts, create_key, new_id, quipu, transfer

N_ACCOUNTS = 8
FUNDING = 1_000_000
LEDGER = 840
MOVERS = 4
READERS = 2
KILLS = 8
GAP_S = (1.2, 2.5)      # between restart and the next kill
DOWN_S = (0.05, 0.4)    # how long the server stays dead
TAIL_S = 1.5            # load after the last restart
RESULTS = os.path.join(ROOT, "build", "drills", "bank.json")


def write_results(path, result):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def test_bank_total_never_changes_under_kill_9(tmp_dir, monkeypatch):
    seed = seed_from_env()
    rng = random.Random(seed)
    print("\nbank: seed %d (BANK_SEED=%d replays its choices)" % (seed, seed))
    monkeypatch.setattr(conftest, "QUIPU", private_binary(tmp_dir, conftest.QUIPU))
    t0 = time.time()
    data = os.path.join(tmp_dir, "data")
    key = create_key(data, "bank")
    server = Server(data).start()
    api = Api(server, key)
    source = new_id()
    ids = [new_id() for _ in range(N_ACCOUNTS)]
    assert api.create_accounts(accounts(source, ledger=LEDGER)) == ["ok"]
    assert api.create_accounts(accounts(*ids, ledger=LEDGER, flags=["debits_must_not_exceed_credits"])) \
        == ["ok"] * N_ACCOUNTS
    assert api.create_transfers([transfer(new_id(), source, a, FUNDING, ledger=LEDGER) for a in ids]) \
        == ["ok"] * N_ACCOUNTS

    bank = Bank(server, key, LEDGER, source, ids, FUNDING)
    bank.up.set()
    tids = itertools.count(new_id() << 8)   # beyond every id new_id() will hand out in this session
    movers = [Mover(bank, random.Random(rng.getrandbits(64)), tids) for _ in range(MOVERS)]
    readers = [Reader(bank) for _ in range(READERS)]
    nemesis = Nemesis(bank, random.Random(rng.getrandbits(64)), KILLS, GAP_S, DOWN_S)
    threads = movers + readers + [nemesis]
    try:
        for t in threads:
            t.start()
        nemesis.join(timeout=120)
        assert not nemesis.is_alive(), "the nemesis is stuck"
        time.sleep(TAIL_S)
    finally:
        bank.stop.set()
        for t in movers + readers:
            t.join(timeout=60)
    for t in threads:
        assert not t.is_alive(), "%s did not finish" % t.name
        assert t.error is None, "%s failed: %r" % (t.name, t.error)
    st = bank.stats

    # After the storm: one more snapshot, every acknowledged transfer present,
    # a clean stop and an offline replay of the whole journal.
    final = api.post("/v1/accounts/lookup", {"ids": [str(i) for i in [source] + ids]})
    assert final.status_code == 200, final.text
    bank.check_snapshot(final.json()["accounts"], "final read")
    st.reads_checked += 1
    lost = 0
    for i in range(0, len(st.acked_ids), 8190):
        chunk = st.acked_ids[i:i + 8190]
        r = api.post("/v1/transfers/lookup", {"ids": [str(x) for x in chunk]})
        assert r.status_code == 200, r.text
        lost += len(chunk) - len(r.json()["transfers"])
    if lost:
        st.violation("lost_acknowledged", "%d acknowledged transfers missing at the end" % lost)
    audit = api.audit()
    if audit["invariant_ok"] is not True:
        st.violation("audit_invariant", "final audit: %s" % audit)
    assert server.stop() == 0
    v = quipu("verify", "--data", data, check=False)
    st.verify_runs += 1
    if v.returncode != 0 or "result:    OK" not in v.stdout:
        st.violation("verify_failed", "final: " + (v.stdout + v.stderr)[-600:])
    duration = time.time() - t0

    violations = sum(st.violations.values())
    result = {
        "seed": seed,
        "accounts": N_ACCOUNTS,
        "funding_per_account": FUNDING,
        "movers": MOVERS,
        "readers": READERS,
        "kills": st.kills,
        "restarts": server.starts - 1,
        "reads_checked": st.reads_checked,
        "audit_reads_checked": st.audit_reads_checked,
        "reads_failed": st.reads_failed,
        "violations": violations,
        "violations_by_kind": dict(st.violations),
        "transfers_acknowledged": st.transfers_acknowledged,
        "transfers_exceeds_credits": st.transfers_exceeds_credits,
        "transfers_other_results": dict(st.transfers_other_results),
        "transfers_checked_at_end": len(st.acked_ids),
        "lost_acknowledged": lost,
        "requests_sent": st.requests_sent,
        "requests_in_doubt": st.requests_in_doubt,
        "requests_resent": st.requests_resent,
        "verify_runs": st.verify_runs,
        "torn_tails_at_kill": nemesis.torn,
        "duration_s": round(duration, 2),
        "ok": violations == 0 and st.kills == KILLS,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_results(RESULTS, result)
    print("bank: %d kills, %d reads checked (+%d audits), %d violations, %d transfers acknowledged, "
          "%d refused by a limit, %d requests in doubt (%d re-sent), %.1f s"
          % (st.kills, st.reads_checked, st.audit_reads_checked, violations,
             st.transfers_acknowledged, st.transfers_exceeds_credits, st.requests_in_doubt,
             st.requests_resent, duration))
    for note in st.violation_notes:
        print("bank: VIOLATION " + note)
    assert st.kills == KILLS
    assert st.reads_checked > 100 and st.transfers_acknowledged > 100, result
    assert violations == 0, st.violation_notes
