-- Followers say that they follow, so that writers send wake-ups only while
-- someone listens. A wake-up is a transaction of its own (see "Writes" in
-- docs/postgres.md); for groups of 8 events from 8 processes it cost the
-- server about a sixth of its time, for no one when nobody followed.
-- A follower that waits for commits keeps a row here with a lease it
-- renews while it waits; a writer looks at most once a second whether a
-- lease is current.
CREATE TABLE followers (
  id    bytea       PRIMARY KEY,  -- 16 random bytes per following backend
  until timestamptz NOT NULL      -- the lease: renewed while it waits
);
