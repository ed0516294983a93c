// pg_conn.h — a small C++ layer over one libpq connection: connect with
// messages that name the server (never the password), prepared statements
// with binary parameters and results, and the error class of a failure.
//
// A Conn is used by one thread at a time. Every statement is prepared once
// per connection (by name) and run with binary parameters; results come back
// in binary. A lost connection is reported as IOError with broken() true;
// Reconnect() opens a fresh session and forgets the prepared statements.
//
// The session is in libpq's non-blocking mode: statements are sent and
// flushed, and results read, without libpq ever waiting on the socket
// itself. Wherever the conversation has to wait for the server, Conn calls
// its waiter with the socket and the poll(2) events it needs. The default
// waiter polls, so a caller sees plain blocking calls; a host that runs the
// conversation on a fiber sets one that parks the fiber instead. Opening a
// session (Connect, Reconnect) waits through the waiter as well, until the
// URL's connect_timeout (10 s unless it says otherwise).
//
// Callers on fibers of one thread may share a Conn: flights (Send, then
// Receive) may be out together, every other call waits until none is, and
// WaitUntil parks a caller on an eventfd until another calls Wake.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "host/store/status.h"

namespace sx::pg {

using Status = store::Status;

// Type oids of the parameters this layer builds (pg_type.dat).
inline constexpr Oid kByteaOid = 17;
inline constexpr Oid kInt8Oid = 20;
inline constexpr Oid kTextOid = 25;
inline constexpr Oid kByteaArrayOid = 1001;
inline constexpr Oid kInt8ArrayOid = 1016;

// One statement parameter in binary format.
struct Param {
  Oid type = 0;
  std::string bytes;
  bool null = false;
};
Param Int8Param(int64_t v);
Param ByteaParam(std::string_view bytes);
Param TextParam(std::string_view text);
// One-dimensional arrays; a null element pointer is SQL NULL.
Param ByteaArrayParam(const std::vector<const std::string*>& elems);
Param Int8ArrayParam(const std::vector<int64_t>& elems);

// A query's rows, read in binary.
class Rows {
 public:
  Rows() = default;
  explicit Rows(PGresult* r) : r_(r, &PQclear) {}
  int size() const { return r_ ? PQntuples(r_.get()) : 0; }
  bool IsNull(int row, int col) const { return PQgetisnull(r_.get(), row, col); }
  std::string Bytes(int row, int col) const;
  int64_t Int8(int row, int col) const;  // int8 or xid8 columns
  bool Bool(int row, int col) const;

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> r_{nullptr, &PQclear};
};

class Conn {
 public:
  // Waits until fd is ready for `events` (POLLIN, POLLOUT) or timeout_ms
  // has passed (-1: no limit). It may return early: callers look again.
  using Waiter = std::function<void(int fd, short events, int timeout_ms)>;

  Conn() = default;
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // "postgresql://user@host:port/db": the URL without its password, for messages.
  static std::string Redact(const std::string& url);

  // Opens a session; IOError naming the redacted URL and the server's reason.
  Status Connect(const std::string& url);
  Status Reconnect();
  void Close();

  // A statement, prepared under `name` on first use on this connection.
  Status Run(const char* name, const char* sql, const std::vector<Param>& params,
             Rows* out = nullptr);
  // Statements sent together in pipeline mode: one round trip for all of
  // them. Each is prepared under its name on first use, like Run. The status
  // is the first failure's; the statements after it did not run.
  struct Step {
    const char* name;
    const char* sql;
    std::vector<Param> params;
    Rows* out = nullptr;
  };
  Status Pipeline(std::vector<Step>* steps);

  // Flights: a pipeline sent while earlier ones may still be on the server,
  // so that the caller's next work overlaps the server's. Send sends the
  // steps and a sync and returns at once; Receive reads their results as
  // Pipeline does, once the flights sent before it have read theirs. Many
  // callers (fibers) may have flights out at once; every other call waits
  // until none is out. A flight's statements run after the earlier ones',
  // in their own sync: an earlier one's failure does not skip them.
  struct Flight {
    uint64_t number = 0;
    bool led = false;                           // sent behind others, after `lead`
    std::vector<std::pair<size_t, bool>> sent;  // step index, and whether a prepare
  };
  // `lead`, when given, goes first (inserted into *steps) if other flights
  // are out as this one goes: a ROLLBACK that ends an earlier flight's
  // transaction should its COMMIT not have run.
  Status Send(std::vector<Step>* steps, Flight* flight, const Step* lead = nullptr);
  Status Receive(std::vector<Step>* steps, const Flight& flight);
  // Flights sent and not yet received.
  uint64_t flights() const { return sent_ - received_; }

  // Waits through the waiter until ready() holds; a caller that changes what
  // another may wait for calls Wake (for callers on fibers of one thread).
  void WaitUntil(const std::function<bool()>& ready);
  void Wake();

  // A plain statement (or several separated by ';'), no parameters.
  Status Exec(const std::string& sql);

  // Replaces the waiter (an empty one restores the default, poll(2)).
  void set_waiter(Waiter waiter) { waiter_ = std::move(waiter); }
  // Waits through the waiter for the socket to be ready for `events`, at
  // most timeout_ms (-1: no limit); returns at once when not connected.
  void Wait(short events, int timeout_ms);
  // Waits timeout_ms through the waiter (no socket: fd -1), as between
  // tries at a server that is away; a parked caller lets the others run.
  void Sleep(int timeout_ms);

  // True when the last failure lost the connection (a retry needs Reconnect).
  bool broken() const;
  // SQLSTATE of the last failed statement ("" if none or the connection broke).
  const std::string& sqlstate() const { return sqlstate_; }
  // The constraint the last failed statement broke, if it named one.
  const std::string& constraint() const { return constraint_; }
  // The index of the step that failed the last Pipeline (SIZE_MAX if none
  // did, or the connection broke before one answered).
  size_t failed_step() const { return failed_step_; }
  // The backend process id of this session (for pg_terminate_backend).
  int server_pid() const { return conn_ ? PQbackendPID(conn_) : 0; }
  const std::string& where() const { return where_; }
  PGconn* raw() { return conn_; }
  // "\"name\"" with quotes doubled, for identifiers in SQL text.
  std::string QuoteIdent(std::string_view name) const;

 private:
  Status Fail(std::string_view what, PGresult* r);
  void ClearError() {
    sqlstate_.clear();
    constraint_.clear();
    failed_step_ = SIZE_MAX;
  }
  // Sends steps (and their prepares, recorded in *sent) and a sync, in
  // pipeline mode; then reads their results.
  Status SendSteps(std::vector<Step>* steps, std::vector<std::pair<size_t, bool>>* sent);
  Status ReadSteps(std::vector<Step>* steps, const std::vector<std::pair<size_t, bool>>& sent);
  // Sends what libpq holds for the server; false when the connection failed.
  bool Flush();
  // The next result, waiting for it as needed; nullptr once a statement's
  // results are done (or the connection is lost).
  PGresult* NextResult();
  // Reads a statement's results to the end: the first failure, or OK with
  // the first result's rows in *out (when given).
  Status Finish(std::string_view what, Rows* out);
  // Waits until no flight is out and nothing else is using the connection,
  // then marks it in use (Done ends that).
  void Begin();
  void Done();
  Status RunNow(const char* name, const char* sql, const std::vector<Param>& params, Rows* out);
  Status ExecNow(const std::string& sql);

  PGconn* conn_ = nullptr;
  Waiter waiter_;
  std::string url_;
  std::string where_;  // "postgres <redacted url>"
  std::string sqlstate_;
  std::string constraint_;
  size_t failed_step_ = SIZE_MAX;
  std::set<std::string> prepared_;
  uint64_t sent_ = 0, received_ = 0;  // flights
  bool in_use_ = false;               // a call other than a flight's Receive is running
  int wake_fd_ = -1;                  // an eventfd: WaitUntil's callers wait on it
  int waiting_ = 0;                   // callers in WaitUntil
  int waiting_turn_ = 0;              // of which, in Receive
  bool wake_pending_ = false;         // written to wake_fd_, not yet read
};

}  // namespace sx::pg
