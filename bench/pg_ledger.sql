-- pg_ledger.sql - the PostgreSQL ledger that quipu is compared with.
--
-- A well-built relational ledger with the same rules as quipu's (DESIGN.md
-- section 4), per transfer, in order:
--   * the transfer id is an idempotency key: an identical re-send returns
--     'exists', the same id with other fields 'exists_with_different_<field>',
--     and nothing is applied twice (the primary key backs this up);
--   * both accounts are locked (SELECT ... FOR UPDATE) in id order, so
--     concurrent transfers never deadlock;
--   * unknown accounts, different ledgers, limits
--     (debits_must_not_exceed_credits / credits_must_not_exceed_debits, with
--     pending amounts counted) and every overflow are checked before
--     anything is written;
--   * balances are updated and the transfer row inserted;
--   * two-phase: a pending transfer holds its amount in *_pending; a post
--     (amount 0 = the full amount, or less) moves it to *_posted and releases
--     the rest; a void releases it all; a pending transfer is resolved once.
-- Failed transfers write nothing, as in quipu.  Result codes are quipu's
-- wire names, so the benchmark compares them one for one.
--
-- Ids and amounts are bigint, not numeric(39): that favours PostgreSQL (64-bit
-- arithmetic is far cheaper than numeric) and the workload fits in 63 bits.
-- Timestamps come from a sequence: strictly increasing, like quipu's.
-- Durability is PostgreSQL's default: fsync=on, synchronous_commit=on,
-- logged tables, full_page_writes=on.

CREATE TABLE accounts (
  id              bigint   PRIMARY KEY,
  ledger          integer  NOT NULL,
  code            integer  NOT NULL,
  flags           integer  NOT NULL,
  debits_pending  bigint   NOT NULL DEFAULT 0,
  debits_posted   bigint   NOT NULL DEFAULT 0,
  credits_pending bigint   NOT NULL DEFAULT 0,
  credits_posted  bigint   NOT NULL DEFAULT 0,
  ts              bigint   NOT NULL
);

CREATE TABLE transfers (
  id                bigint   PRIMARY KEY,
  debit_account_id  bigint   NOT NULL,
  credit_account_id bigint   NOT NULL,
  amount            bigint   NOT NULL,
  pending_id        bigint   NOT NULL,
  ledger            integer  NOT NULL,
  code              integer  NOT NULL,
  flags             integer  NOT NULL,
  ts                bigint   NOT NULL,
  pending_state     smallint NOT NULL  -- 0 none, 1 pending, 2 posted, 3 voided
);

CREATE SEQUENCE event_ts;

-- Flags, as in quipu: account 2 = debits_must_not_exceed_credits,
-- 4 = credits_must_not_exceed_debits; transfer 1 = linked, 2 = pending,
-- 4 = post_pending_transfer, 8 = void_pending_transfer.
CREATE FUNCTION create_transfer(p_id bigint, p_debit bigint, p_credit bigint, p_amount bigint,
                                p_pending_id bigint, p_ledger integer, p_code integer,
                                p_flags integer) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  max_i64 constant bigint := 9223372036854775807;
  is_pending boolean := (p_flags & 2) <> 0;
  is_post    boolean := (p_flags & 4) <> 0;
  is_void    boolean := (p_flags & 8) <> 0;
  t  transfers%ROWTYPE;
  p  transfers%ROWTYPE;
  dr accounts%ROWTYPE;
  cr accounts%ROWTYPE;
  a  accounts%ROWTYPE;
  amt bigint;
  dr_pending bigint; dr_posted bigint; cr_pending bigint; cr_posted bigint;
BEGIN
  -- Checks on the event alone.
  IF (p_flags & ~63) <> 0 THEN RETURN 'reserved_flag'; END IF;
  IF (p_flags & 1) <> 0 THEN RETURN 'reserved_flag'; END IF; -- chains are not modelled here
  IF p_id = 0 THEN RETURN 'id_must_not_be_zero'; END IF;
  IF is_pending::int + is_post::int + is_void::int > 1 THEN
    RETURN 'flags_are_mutually_exclusive';
  END IF;
  IF is_post OR is_void THEN
    IF p_pending_id = 0 THEN RETURN 'pending_id_must_not_be_zero'; END IF;
    IF p_pending_id = p_id THEN RETURN 'pending_id_must_be_different'; END IF;
  ELSE
    IF p_pending_id <> 0 THEN RETURN 'pending_id_must_be_zero'; END IF;
    IF p_debit = 0 THEN RETURN 'debit_account_id_must_not_be_zero'; END IF;
    IF p_credit = 0 THEN RETURN 'credit_account_id_must_not_be_zero'; END IF;
    IF p_debit = p_credit THEN RETURN 'accounts_must_be_different'; END IF;
    IF p_amount <= 0 THEN RETURN 'amount_must_not_be_zero'; END IF;
    IF p_ledger = 0 THEN RETURN 'ledger_must_not_be_zero'; END IF;
    IF p_code = 0 THEN RETURN 'code_must_not_be_zero'; END IF;
  END IF;

  -- Idempotency: the id decides.
  SELECT * INTO t FROM transfers WHERE id = p_id;
  IF FOUND THEN
    IF t.flags <> p_flags THEN RETURN 'exists_with_different_flags'; END IF;
    IF (p_debit <> 0 OR NOT (is_post OR is_void)) AND p_debit <> t.debit_account_id THEN
      RETURN 'exists_with_different_debit_account_id';
    END IF;
    IF (p_credit <> 0 OR NOT (is_post OR is_void)) AND p_credit <> t.credit_account_id THEN
      RETURN 'exists_with_different_credit_account_id';
    END IF;
    IF is_post AND p_amount = 0 THEN
      IF NOT EXISTS (SELECT 1 FROM transfers WHERE id = t.pending_id AND amount = t.amount) THEN
        RETURN 'exists_with_different_amount';
      END IF;
    ELSIF NOT (is_void AND p_amount = 0) AND p_amount <> t.amount THEN
      RETURN 'exists_with_different_amount';
    END IF;
    IF p_pending_id <> t.pending_id THEN RETURN 'exists_with_different_pending_id'; END IF;
    IF (p_ledger <> 0 OR NOT (is_post OR is_void)) AND p_ledger <> t.ledger THEN
      RETURN 'exists_with_different_ledger';
    END IF;
    IF (p_code <> 0 OR NOT (is_post OR is_void)) AND p_code <> t.code THEN
      RETURN 'exists_with_different_code';
    END IF;
    RETURN 'exists';
  END IF;

  IF is_post OR is_void THEN
    -- Lock the pending transfer, then its two accounts in id order.
    SELECT * INTO p FROM transfers WHERE id = p_pending_id FOR UPDATE;
    IF NOT FOUND THEN RETURN 'pending_transfer_not_found'; END IF;
    IF (p.flags & 2) = 0 THEN RETURN 'pending_transfer_not_pending'; END IF;
    IF p_debit <> 0 AND p_debit <> p.debit_account_id THEN
      RETURN 'pending_transfer_has_different_debit_account_id';
    END IF;
    IF p_credit <> 0 AND p_credit <> p.credit_account_id THEN
      RETURN 'pending_transfer_has_different_credit_account_id';
    END IF;
    IF p_ledger <> 0 AND p_ledger <> p.ledger THEN RETURN 'pending_transfer_has_different_ledger'; END IF;
    IF p_code <> 0 AND p_code <> p.code THEN RETURN 'pending_transfer_has_different_code'; END IF;
    IF is_post THEN
      IF p_amount > p.amount THEN RETURN 'exceeds_pending_transfer_amount'; END IF;
    ELSIF p_amount <> 0 AND p_amount <> p.amount THEN
      RETURN 'pending_transfer_has_different_amount';
    END IF;
    IF p.pending_state = 2 THEN RETURN 'pending_transfer_already_posted'; END IF;
    IF p.pending_state = 3 THEN RETURN 'pending_transfer_already_voided'; END IF;
    IF p.pending_state = 4 THEN RETURN 'pending_transfer_expired'; END IF;
    amt := CASE WHEN is_post AND p_amount <> 0 THEN p_amount ELSE p.amount END;
    FOR a IN SELECT * FROM accounts WHERE id IN (p.debit_account_id, p.credit_account_id)
             ORDER BY id FOR UPDATE LOOP
      IF a.id = p.debit_account_id THEN dr := a; ELSE cr := a; END IF;
    END LOOP;
    IF is_post THEN
      IF dr.debits_posted > max_i64 - amt THEN RETURN 'overflows_debits_posted'; END IF;
      IF cr.credits_posted > max_i64 - amt THEN RETURN 'overflows_credits_posted'; END IF;
    ELSE
      amt := p.amount;
    END IF;
    UPDATE accounts SET debits_pending = debits_pending - p.amount,
                        debits_posted = debits_posted + CASE WHEN is_post THEN amt ELSE 0 END
     WHERE id = p.debit_account_id;
    UPDATE accounts SET credits_pending = credits_pending - p.amount,
                        credits_posted = credits_posted + CASE WHEN is_post THEN amt ELSE 0 END
     WHERE id = p.credit_account_id;
    UPDATE transfers SET pending_state = CASE WHEN is_post THEN 2 ELSE 3 END WHERE id = p_pending_id;
    INSERT INTO transfers VALUES (p_id, p.debit_account_id, p.credit_account_id, amt, p_pending_id,
                                  p.ledger, p.code, p_flags, nextval('event_ts'), 0);
    RETURN 'ok';
  END IF;

  -- A plain or pending transfer: lock both accounts in id order.
  FOR a IN SELECT * FROM accounts WHERE id IN (p_debit, p_credit) ORDER BY id FOR UPDATE LOOP
    IF a.id = p_debit THEN dr := a; ELSE cr := a; END IF;
  END LOOP;
  IF dr.id IS NULL THEN RETURN 'debit_account_not_found'; END IF;
  IF cr.id IS NULL THEN RETURN 'credit_account_not_found'; END IF;
  IF dr.ledger <> cr.ledger THEN RETURN 'accounts_must_have_the_same_ledger'; END IF;
  IF p_ledger <> dr.ledger THEN RETURN 'transfer_must_have_the_same_ledger_as_accounts'; END IF;

  dr_pending := dr.debits_pending;  dr_posted := dr.debits_posted;
  cr_pending := cr.credits_pending; cr_posted := cr.credits_posted;
  IF is_pending THEN
    IF dr_pending > max_i64 - p_amount THEN RETURN 'overflows_debits_pending'; END IF;
    IF cr_pending > max_i64 - p_amount THEN RETURN 'overflows_credits_pending'; END IF;
    dr_pending := dr_pending + p_amount;
    cr_pending := cr_pending + p_amount;
  ELSE
    IF dr_posted > max_i64 - p_amount THEN RETURN 'overflows_debits_posted'; END IF;
    IF cr_posted > max_i64 - p_amount THEN RETURN 'overflows_credits_posted'; END IF;
    dr_posted := dr_posted + p_amount;
    cr_posted := cr_posted + p_amount;
  END IF;
  IF dr_pending > max_i64 - dr_posted THEN RETURN 'overflows_debits'; END IF;
  IF cr_pending > max_i64 - cr_posted THEN RETURN 'overflows_credits'; END IF;
  IF (dr.flags & 2) <> 0 AND dr_pending + dr_posted > dr.credits_posted THEN
    RETURN 'exceeds_credits';
  END IF;
  IF (cr.flags & 4) <> 0 AND cr_pending + cr_posted > cr.debits_posted THEN
    RETURN 'exceeds_debits';
  END IF;

  UPDATE accounts SET debits_pending = dr_pending, debits_posted = dr_posted WHERE id = p_debit;
  UPDATE accounts SET credits_pending = cr_pending, credits_posted = cr_posted WHERE id = p_credit;
  INSERT INTO transfers VALUES (p_id, p_debit, p_credit, p_amount, 0, p_ledger, p_code, p_flags,
                                nextval('event_ts'), CASE WHEN is_pending THEN 1 ELSE 0 END);
  RETURN 'ok';
END;
$$;

-- The batched form: a batch in one transaction, every rule applied per
-- transfer, in order, by the same function.  One round trip and one commit
-- (one WAL fsync) per batch instead of per transfer.
CREATE FUNCTION create_transfers(p_id bigint[], p_debit bigint[], p_credit bigint[],
                                 p_amount bigint[], p_pending_id bigint[], p_ledger integer[],
                                 p_code integer[], p_flags integer[])
RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
  results text[] := '{}';
BEGIN
  FOR i IN 1 .. coalesce(array_length(p_id, 1), 0) LOOP
    results[i] := create_transfer(p_id[i], p_debit[i], p_credit[i], p_amount[i], p_pending_id[i],
                                  p_ledger[i], p_code[i], p_flags[i]);
  END LOOP;
  RETURN results;
END;
$$;
