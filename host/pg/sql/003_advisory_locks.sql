-- Writers now serialize on transaction-scoped advisory locks, one per stream
-- and per key, instead of row locks (docs/postgres.md, "Writes"). A lock no
-- longer needs a row, so the NULL-valued kv rows that stood for absent keys
-- under a row lock go. A writer of version 2 takes row locks and would not
-- wait for one of version 3: the version tells it to stop.
DELETE FROM kv WHERE value IS NULL;
