"""32 clients sending conflicting transfers on a few hot accounts with
balance limits: afterwards every balance equals the sum of the transfers the
server accepted, no limit was overrun, linked pairs were all-or-nothing, and
the audit's invariant holds."""
import random
import threading
from collections import defaultdict

import requests

from conftest import Api, accounts, new_id, transfer

CLIENTS = 32
REQUESTS_PER_CLIENT = 60
LEDGER = 31


def test_32_clients_on_hot_accounts(server, keys):
    api = Api(server, keys["rw"])
    bank = new_id()
    users = [new_id() for _ in range(5)]
    body = accounts(bank, ledger=LEDGER) + accounts(*users, ledger=LEDGER, flags=["debits_must_not_exceed_credits"])
    assert api.create_accounts(body) == ["ok"] * 6
    funding = [transfer(new_id(), bank, u, 200, ledger=LEDGER) for u in users]
    assert api.create_transfers(funding) == ["ok"] * 5
    accepted = [(bank, u, 200) for u in users]
    lock = threading.Lock()
    errors = []

    def client(seed):
        rng = random.Random(seed)
        s = requests.Session()
        s.headers["Authorization"] = "Bearer " + keys["rw"]
        mine = []
        try:
            for _ in range(REQUESTS_PER_CLIENT):
                batch, pairs = [], []
                for _ in range(rng.randint(1, 6)):
                    d, c = rng.sample(users, 2)
                    amount = rng.randint(1, 40)
                    if rng.random() < 0.2:  # a linked pair: both or neither
                        e = rng.choice([u for u in users if u != c])
                        batch.append(transfer(new_id(), d, c, amount, ledger=LEDGER, flags=["linked"]))
                        batch.append(transfer(new_id(), c, e, amount + 1, ledger=LEDGER))
                        pairs.append(len(batch) - 2)
                    else:
                        batch.append(transfer(new_id(), d, c, amount, ledger=LEDGER))
                r = s.post(server.url("/v1/transfers"), json=batch, timeout=60)
                assert r.status_code == 200, r.text
                results = [x["result"] for x in r.json()["results"]]
                assert len(results) == len(batch)
                for i in pairs:
                    assert (results[i] == "ok") == (results[i + 1] == "ok"), results
                for t, res in zip(batch, results):
                    assert res in ("ok", "exceeds_credits", "linked_event_failed"), res
                    if res == "ok":
                        mine.append((int(t["debit_account_id"]), int(t["credit_account_id"]), int(t["amount"])))
        except Exception as e:  # reported in the main thread
            errors.append(e)
        with lock:
            accepted.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    debits, credits = defaultdict(int), defaultdict(int)
    for d, c, amount in accepted:
        debits[d] += amount
        credits[c] += amount
    assert len(accepted) > 5 + CLIENTS  # the hot accounts did move money
    r = api.post("/v1/accounts/lookup", {"ids": [str(bank)] + [str(u) for u in users]})
    for acc in r.json()["accounts"]:
        i = int(acc["id"])
        assert int(acc["debits_posted"]) == debits[i], acc
        assert int(acc["credits_posted"]) == credits[i], acc
        if i != bank:
            assert int(acc["debits_posted"]) <= int(acc["credits_posted"])
    audit = api.audit()
    assert audit["invariant_ok"] is True
    row = [l for l in audit["ledgers"] if l["ledger"] == LEDGER][0]
    assert row["debits_posted"] == row["credits_posted"] == str(sum(a for _, _, a in accepted))
    # Group commit happened: fewer commits than create requests.
    text = requests.get(server.url("/metrics")).text
    metric = lambda name: int(float([l for l in text.splitlines() if l.startswith(name + " ")][0].split()[1]))
    assert metric("quipu_commits_total") < metric("quipu_commit_requests_total")
