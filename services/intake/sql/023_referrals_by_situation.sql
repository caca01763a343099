-- A purge forgets the fingerprint of the referral that opened the situation
-- (services/intake/store.py FORGET_FINGERPRINT, by situation_id). Without an index that was a
-- scan of every referral ever answered for each purge: 10 ms at 75,000 rows, growing with the
-- table, and the retention timers fire one situation per transaction.
CREATE INDEX referrals_by_situation ON referrals (situation_id) WHERE situation_id IS NOT NULL;
