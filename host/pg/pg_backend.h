// pg_backend.h — the PostgreSQL backend: streams, kv and blobs of sx in a
// PostgreSQL schema, shared by every process (on any host) that opens the
// same URL and schema. docs/postgres.md describes the schema, how each op
// maps onto SQL, the followers' order and the failure rules.
//
// It follows the contract of host/backend/backend.h; in short:
// - CommitGroup runs the whole group in ONE transaction. It locks the rows
//   of every stream and key the group touches, sorted by name hash (streams,
//   then keys) so concurrent groups never deadlock, checks the batches in
//   order against the state earlier accepted ones leave, writes the
//   accepted ones with one statement and commits. Conflicts are answers.
// - Acknowledged = COMMIT returned OK (synchronous_commit as the server sets
//   it). A connection lost before COMMIT rolls the group back; the backend
//   reconnects and runs it again. A connection lost during COMMIT is decided
//   by the transaction's token: once the session that ran it is gone, its
//   commits row holds the token or the transaction did not commit.
// - Followers: CommitPosition is the xid of the newest commit below the
//   oldest transaction still running, so no commit below it can appear later;
//   each commits row names the seqs its transaction wrote, per stream.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "host/backend/backend.h"

namespace sx::pg {

using Status = store::Status;

struct PgOptions {
  std::string url;            // postgresql://user:password@host:port/db?...
  std::string schema = "sx";  // created on first use, with its tables
  int retry_ms = 15000;       // how long a write keeps reconnecting
  // How often a writer looks whether anyone follows (it sends wake-ups only
  // then; docs/postgres.md, "Followers"). Tests set 0: at every commit.
  int followers_check_ms = 1000;
  // A group of appends to streams this process wrote last goes in one round
  // trip (docs/postgres.md, "Writes"); false always takes two (benchmarks).
  bool one_round_trip = true;
  // Whether a host's round of many appends goes as two groups, the second
  // sent while the first is on the server (Backend::overlap; the URL's
  // overlap=on|off|auto, default auto: when the host finds it faster).
  backend::Backend::Overlap overlap = backend::Backend::Overlap::kAuto;
  // Tests only: called at named steps of a commit ("locked": locks taken on
  // the two-round-trip way, before the writes; "commit": before the writes and COMMIT are sent;
  // "committed": COMMIT answered). Returning true at "commit" drops the
  // connection instead of sending them; at "committed" the backend acts as
  // if the answer was lost.
  std::function<bool(const char* step)> test_hook;
};

// Opens (and on first use creates or migrates) the schema. IOError naming
// the URL without its password and the cause when the server cannot be
// reached or refuses; InvalidArgument when the schema is newer than this
// build knows.
Status OpenPostgres(const PgOptions& options, std::unique_ptr<backend::Backend>* out);
Status OpenPostgres(const std::string& url, std::unique_ptr<backend::Backend>* out);

// The schema version this build creates and understands.
int LatestSchemaVersion();

// Events of every stream in the followers' order: transactions by xid, then
// stream id, then seq. ReadCommitted returns events of commits with
// after < xid <= *position, where *position is the position at the time of
// the read (see CommitPosition); a follower passes its last position back.
struct CommittedEvent {
  uint64_t position = 0;  // the xid of the commit
  std::string stream;
  uint64_t seq = 0;
  std::string payload;
};
// Available on a backend opened by OpenPostgres; InvalidArgument otherwise.
Status ReadCommitted(backend::Backend* backend, uint64_t after, size_t limit,
                     std::vector<CommittedEvent>* out, uint64_t* position);

}  // namespace sx::pg
