-- Writers now serialize on transaction-scoped advisory locks, one per stream
-- and per key, instead of row locks (docs/postgres.md, "Writes"). A lock no
-- longer needs a row, so the NULL-valued kv rows that stood for absent keys
-- under a row lock go. A writer of version 2 takes row locks and would not
-- wait for one of version 3: the version tells it to stop.
DELETE FROM kv WHERE value IS NULL;

-- A writer that remembers the marks of the streams it last wrote sends its
-- next group in one round trip, with this check ahead of the writes: it
-- raises SQLSTATE SX001, and the group is rolled back and sent the long
-- way, unless every stream still has the mark the writer remembers.
-- The lateral join looks each stream up by its id, whatever the planner
-- guesses of the arrays' sizes.
CREATE FUNCTION expect_marks(ids bigint[], marks bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (
      SELECT 1 FROM unnest(ids, marks) AS u(id, mark)
      LEFT JOIN LATERAL (
        SELECT greatest(s.hwm, coalesce((SELECT max(e.seq) FROM events e
                                         WHERE e.stream_id = s.id), 0)) AS hwm
        FROM streams s WHERE s.id = u.id) AS now ON true
      WHERE now.hwm IS DISTINCT FROM u.mark) THEN
    RAISE EXCEPTION 'a stream moved since this writer last wrote it' USING ERRCODE = 'SX001';
  END IF;
END
$$;

-- A writer that lost the answer to its COMMIT looks for its token.
CREATE INDEX commits_by_token ON commits (token);
