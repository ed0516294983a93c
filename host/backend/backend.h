// backend.h — the seam between the persist ops and a storage engine.
//
// The op table (host/ops/) turns SX requests into bytes and WriteBatches;
// a Backend stores them. The embedded segmented store (host/store/) is one
// engine, an in-memory one serves tests, PostgreSQL is another. An engine
// knows nothing of SX values: stream names, keys, payloads, kv values and
// blobs are opaque byte strings (any bytes, NUL included).
//
// Contract.
//
// - Ownership. The caller owns the Backend and calls it from one thread at a
//   time (the interpreter's run loop); an engine may run threads of its own
//   (a flusher, a connection) but answers only on the caller's thread.
// - Acknowledged. A write is acknowledged when CommitGroup has returned OK
//   for its batch. An acknowledged write survives the process being killed;
//   with the durable sync mode it also survives a power cut (the embedded
//   store) or a server crash (PostgreSQL commits before answering). A write
//   that was not acknowledged may or may not have landed; an engine that
//   cannot tell (a connection lost during COMMIT) finds out by reading back
//   before it answers, and documents the rule per op.
// - Atomicity. Each WriteBatch is all or nothing. Its ops apply in order,
//   each checked against the state the earlier ones leave: an append's seq
//   must be above the stream's high-water mark (hwm), AppendExpect needs the
//   hwm to equal its expected last seq, KvCas needs the key's stored bytes
//   to equal `expected` (nullopt: absent). A failed check refuses the whole
//   batch with Status::Conflict(expected, actual): for an Append, expected
//   is hwm + 1 and actual the hwm; for an AppendExpect whose expected last
//   seq is not the hwm, expected is that seq and actual the hwm; for a
//   KvCas, both are 0 (the op table tells the ops apart by this); an
//   AppendExpect that expects the hwm but whose seq is not above it is
//   refused as an Append. Conflicts are answers, never errors that end a
//   group: in a group the batches are checked in order, each against the
//   state the earlier accepted ones leave, and every accepted batch commits.
// - Seqs. A stream's hwm only rises. TruncateThrough drops stored events
//   and keeps the hwm and the stream's place in Streams(). LastSeq of a
//   stream never appended to is 0.
// - Errors. Status codes as in host/store/status.h: NotFound for an absent
//   key or blob, InvalidArgument for a bad request or a write to a read-only
//   backend, IOError/Corruption/NoSpace for failures. After a failed write
//   an engine may refuse later writes until it is reopened; reads go on.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "host/store/status.h"
#include "host/store/write_batch.h"

namespace sx::backend {

using Status = store::Status;
using WriteBatch = store::WriteBatch;

struct Event {
  uint64_t seq = 0;
  std::string payload;
};

// Named counters for persist/stats and `sx store stats`, in the order they
// should be shown. Each engine reports what it has ("events", "streams",
// "kv-keys", ... are common to all; "segments" is the embedded store's).
using Stats = std::vector<std::pair<std::string, uint64_t>>;

class Backend {
 public:
  virtual ~Backend() = default;

  // A short name for messages and stats: "store", "memory", "postgres".
  virtual const char* kind() const = 0;

  // --- writes -------------------------------------------------------------
  // Checks each batch in order against the state the earlier accepted ones
  // leave and commits every accepted one, durably per the sync mode, with as
  // few writes and syncs (or round trips) as the engine can manage.
  // results->at(i) tells how batch i ended: OK, Conflict, or a failure.
  virtual void CommitGroup(std::span<const WriteBatch* const> batches,
                           std::vector<Status>* results) = 0;
  // A group of one.
  Status Commit(const WriteBatch& batch) {
    const WriteBatch* one[] = {&batch};
    std::vector<Status> results;
    CommitGroup(one, &results);
    return results.empty() ? Status::OK() : results[0];
  }

  // --- reads --------------------------------------------------------------
  // Events with seq >= from_seq, oldest first, at most limit of them.
  virtual Status Read(const std::string& stream, uint64_t from_seq, size_t limit,
                      std::vector<Event>* out) = 0;
  virtual Status LastSeq(const std::string& stream, uint64_t* seq) = 0;
  // LastSeq of each of `streams`, in their order; an engine on a server
  // reads them all in one round trip.
  virtual Status LastSeqs(const std::vector<std::string>& streams, std::vector<uint64_t>* seqs) {
    seqs->assign(streams.size(), 0);
    for (size_t i = 0; i < streams.size(); ++i) {
      Status s = LastSeq(streams[i], &(*seqs)[i]);
      if (!s.ok()) return s;
    }
    return Status::OK();
  }
  // Seq of the oldest stored event, or hwm + 1 if none is stored.
  virtual Status FirstSeq(const std::string& stream, uint64_t* seq) = 0;
  // Every stream ever appended to, sorted bytewise.
  virtual Status Streams(std::vector<std::string>* out) = 0;

  virtual Status KvGet(const std::string& key, std::string* value) = 0;  // NotFound if absent
  virtual Status KvHas(const std::string& key, bool* has) = 0;
  virtual Status KvKeys(std::vector<std::string>* out) = 0;  // sorted bytewise

  // --- blobs (content-addressed: CIDv1, raw, sha2-256, base32) ---------------
  virtual Status BlobPut(const std::string& bytes, std::string* cid) = 0;
  // NotFound if absent; Corruption if recorded but damaged (the hash is checked).
  virtual Status BlobGet(const std::string& cid, std::string* bytes) = 0;
  virtual Status BlobHas(const std::string& cid, bool* has) = 0;

  // --- upkeep -------------------------------------------------------------
  // Everything acknowledged so far is on stable storage.
  virtual Status Sync() = 0;
  // Reclaims the space of truncated events and dead values, if the engine
  // needs that; OK and nothing done otherwise.
  virtual Status Compact() = 0;
  virtual Status GetStats(Stats* out) = 0;

  // --- followers ----------------------------------------------------------
  // A position in the order of commits, rising with every commit that
  // changed something (for the embedded store, the log's end; for an
  // engine shared by many processes, what this process has seen). It may
  // rise a moment after the commit returned: PostgreSQL shows a commit only
  // once no older transaction in the database is still running, so that a
  // follower never passes one that commits late.
  virtual Status CommitPosition(uint64_t* position) = 0;
  // Returns once the commit position has passed `seen` or timeout_ms has
  // gone by (0: do not wait), with *position the position now. Engines wait
  // without busy-polling where they can (a wake-up from the writer, LISTEN),
  // and poll in bounded steps otherwise.
  virtual Status WaitForCommit(uint64_t seen, int timeout_ms, uint64_t* position) = 0;
  // True when commits made outside this process can move the position (a
  // reader beside another process's writer, a server shared by many hosts),
  // so blocking in WaitForCommit is worth it; false when only this process
  // commits, and a wait could only end by its timeout.
  virtual bool SeesOtherWriters() const { return false; }
  // Reads what other processes committed since the last call, so the reads
  // after it see it. Engines that always read the latest do nothing.
  virtual Status CatchUp() { return Status::OK(); }

  // --- waiting on a server -----------------------------------------------------
  // Waits until fd is ready for `events` (poll(2)'s POLLIN, POLLOUT) or
  // timeout_ms has passed (-1: no limit); it may return early. fd -1 waits
  // for the time alone (the pause between tries at a server that is away).
  using SocketWaiter = std::function<void(int fd, short events, int timeout_ms)>;
  // An engine that talks to a server waits for its socket through `waiter`
  // from now on (an empty one: poll(2) itself), so a host can run a call on
  // a fiber and park it there instead of blocking; it returns true. An
  // engine that never waits on a socket ignores it and returns false.
  virtual bool SetSocketWaiter(SocketWaiter waiter) {
    (void)waiter;
    return false;
  }
  // Another handle on the same engine with a connection of its own, so a
  // host can run a second group while the first waits on the server. It
  // shares this handle's counters and what it knows of the streams, is
  // used on the same thread, and waits through `waiter` from the start
  // (its connect too). InvalidArgument from engines that never wait.
  virtual Status OpenPeer(SocketWaiter waiter, std::unique_ptr<Backend>* out) {
    (void)waiter;
    (void)out;
    return Status::InvalidArgument(std::string(kind()) + " has one conversation only");
  }
  // Overlap on one conversation. An engine that waits on a server may take
  // calls from two fibers of the host's thread at once (each parked through
  // the waiter while the other runs): a CommitGroup of appends may then go
  // to the server while another is still there, and every other call waits
  // its turn. overlap() says whether the engine does this: never, always,
  // or when the host finds it faster (kAuto); MayJoin, whether a group is
  // on the server now that a group sent next would follow without waiting
  // for it.
  enum class Overlap { kOff, kAuto, kOn };
  virtual Overlap overlap() const { return Overlap::kOff; }
  virtual bool MayJoin() const { return false; }
};

}  // namespace sx::backend
