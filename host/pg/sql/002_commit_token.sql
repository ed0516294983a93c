-- A random token per write transaction, written in its commits row. After a
-- server crash a transaction id can be handed out again; a writer that lost
-- its COMMIT answer takes the transaction as committed only when the row of
-- that id holds its own token (docs/postgres.md, "Failures").
ALTER TABLE commits ADD COLUMN token bytea;
