-- The foreign key from events to streams checked every inserted event with
-- a row lock on its stream's row (FOR KEY SHARE), which wrote that row and
-- cost more than the insert itself. Stream rows are never deleted and a
-- writer takes a stream's id from its row, so the key guarded nothing a
-- writer can break; it goes.
ALTER TABLE events DROP CONSTRAINT events_stream_id_fkey;

-- The one-round-trip way in one statement: a writer that remembers the
-- marks of the streams it last wrote sends a group of appends, all
-- accepted on those marks, as a call of this function between BEGIN and
-- COMMIT. It takes the advisory locks in the order given (the writer sorts
-- them), checks under them that no stream's row hwm passed its remembered
-- mark, and writes the events and the commit's row. It raises SQLSTATE
-- SX001 when a row hwm moved; the rest of "the stream still has that mark"
-- is the events' primary key: every stream of the group gets its event at
-- mark + 1, and a stream whose mark moved past it without a truncation
-- raising its row hwm holds that seq, so the insert fails as a unique
-- violation (docs/postgres.md, "Writes"). Either way nothing is written
-- and the writer goes the long way.
CREATE FUNCTION append_remembered(lock_keys bigint[], stream_ids bigint[], marks bigint[],
                                  ev_streams bigint[], ev_seqs bigint[], ev_payloads bytea[],
                                  commit_token bytea) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(k) FROM unnest(lock_keys) AS k;
  -- A scalar subquery per stream: a lookup by id, which a join of the
  -- array to streams in a generic plan is not (it may scan every stream).
  IF EXISTS (
      SELECT 1 FROM unnest(stream_ids, marks) AS u(id, mark)
      WHERE coalesce((SELECT s.hwm FROM streams s WHERE s.id = u.id), u.mark + 1) > u.mark) THEN
    RAISE EXCEPTION 'a stream moved since this writer last wrote it' USING ERRCODE = 'SX001';
  END IF;
  INSERT INTO events (stream_id, seq, payload)
    SELECT * FROM unnest(ev_streams, ev_seqs, ev_payloads);
  INSERT INTO commits (token) VALUES (commit_token);
END
$$;
DROP FUNCTION expect_marks(bigint[], bigint[]);
