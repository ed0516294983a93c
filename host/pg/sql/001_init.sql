-- 001_init.sql: the first schema of the PostgreSQL backend (host/pg/).
-- Runs inside the migration transaction with search_path set to the
-- backend's schema; docs/postgres.md explains each table.

-- One row per stream ever written: its name (any bytes) keyed by the name's
-- sha256 (a b-tree entry is capped near 2.7 KB, names go up to 1 MiB) and
-- the high-water mark, raised under the row's lock and never lowered.
CREATE TABLE streams (
  id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name_hash bytea  NOT NULL UNIQUE,
  name      bytea  NOT NULL,
  hwm       bigint NOT NULL DEFAULT 0 CHECK (hwm >= 0)
);

-- Events keyed by (stream, seq). xid is the writing transaction: followers
-- of all streams read in xid order below the oldest running transaction.
CREATE TABLE events (
  stream_id bigint NOT NULL REFERENCES streams (id),
  seq       bigint NOT NULL CHECK (seq > 0),
  xid       xid8   NOT NULL DEFAULT pg_current_xact_id(),
  payload   bytea  NOT NULL,
  PRIMARY KEY (stream_id, seq)
);
CREATE INDEX events_by_xid ON events (xid);

-- Keys of any bytes, keyed by sha256 like stream names. A NULL value is a
-- row that holds a lock on an absent key during a commit; readers skip it.
CREATE TABLE kv (
  key_hash bytea PRIMARY KEY,
  key      bytea NOT NULL,
  value    bytea
);

-- Content-addressed blobs, stored once, in chunks of at most 1 MiB.
CREATE TABLE blobs (
  cid  text   PRIMARY KEY,
  size bigint NOT NULL
);
CREATE TABLE blob_chunks (
  cid   text    NOT NULL REFERENCES blobs (cid),
  n     integer NOT NULL,
  bytes bytea   NOT NULL,
  PRIMARY KEY (cid, n)
);

-- One row per write transaction: its xid, the followers' position.
CREATE TABLE commits (
  xid xid8        PRIMARY KEY DEFAULT pg_current_xact_id(),
  at  timestamptz NOT NULL DEFAULT now()
);
