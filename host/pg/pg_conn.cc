#include "host/pg/pg_conn.h"

#include <endian.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

namespace sx::pg {

namespace {

void PutBe32(std::string* out, uint32_t v) {
  v = htobe32(v);
  out->append(reinterpret_cast<const char*>(&v), 4);
}

void PutBe64(std::string* out, uint64_t v) {
  v = htobe64(v);
  out->append(reinterpret_cast<const char*>(&v), 8);
}

// The binary array format of array_send: ndim, has-nulls flag, element type,
// then (length, lower bound) per dimension and (length, bytes) per element.
std::string ArrayHeader(Oid elem, size_t n, bool has_nulls) {
  std::string out;
  PutBe32(&out, n == 0 ? 0 : 1);
  PutBe32(&out, has_nulls ? 1 : 0);
  PutBe32(&out, elem);
  if (n > 0) {
    PutBe32(&out, static_cast<uint32_t>(n));
    PutBe32(&out, 1);
  }
  return out;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// The connection's connect_timeout in seconds (0: no limit), as libpq
// reads it: the URL's value, else ours; below 2 it counts as 2.
int ConnectTimeout(PGconn* conn) {
  int seconds = 0;
  PQconninfoOption* opts = PQconninfo(conn);
  for (PQconninfoOption* o = opts; o && o->keyword; ++o) {
    if (std::strcmp(o->keyword, "connect_timeout") == 0 && o->val) seconds = std::atoi(o->val);
  }
  PQconninfoFree(opts);
  return seconds <= 0 ? 0 : std::max(seconds, 2);
}

}  // namespace

Param Int8Param(int64_t v) {
  Param p{kInt8Oid, {}, false};
  PutBe64(&p.bytes, static_cast<uint64_t>(v));
  return p;
}

Param ByteaParam(std::string_view bytes) { return Param{kByteaOid, std::string(bytes), false}; }

Param TextParam(std::string_view text) { return Param{kTextOid, std::string(text), false}; }

Param ByteaArrayParam(const std::vector<const std::string*>& elems) {
  bool has_nulls = false;
  size_t total = 0;
  for (const std::string* e : elems) {
    has_nulls |= e == nullptr;
    total += 4 + (e ? e->size() : 0);
  }
  Param p{kByteaArrayOid, ArrayHeader(kByteaOid, elems.size(), has_nulls), false};
  p.bytes.reserve(p.bytes.size() + total);
  for (const std::string* e : elems) {
    if (e == nullptr) {
      PutBe32(&p.bytes, 0xffffffffu);
    } else {
      PutBe32(&p.bytes, static_cast<uint32_t>(e->size()));
      p.bytes.append(*e);
    }
  }
  return p;
}

Param Int8ArrayParam(const std::vector<int64_t>& elems) {
  Param p{kInt8ArrayOid, ArrayHeader(kInt8Oid, elems.size(), false), false};
  for (int64_t v : elems) {
    PutBe32(&p.bytes, 8);
    PutBe64(&p.bytes, static_cast<uint64_t>(v));
  }
  return p;
}

std::string Rows::Bytes(int row, int col) const {
  return std::string(PQgetvalue(r_.get(), row, col), PQgetlength(r_.get(), row, col));
}

int64_t Rows::Int8(int row, int col) const {
  uint64_t v = 0;
  if (PQgetlength(r_.get(), row, col) == 8) std::memcpy(&v, PQgetvalue(r_.get(), row, col), 8);
  return static_cast<int64_t>(be64toh(v));
}

bool Rows::Bool(int row, int col) const { return PQgetvalue(r_.get(), row, col)[0] != 0; }

Conn::~Conn() {
  Close();
  if (wake_fd_ >= 0) close(wake_fd_);
}

std::string Conn::Redact(const std::string& url) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  if (opts == nullptr) {
    if (err) PQfreemem(err);
    return "(an unparsable connection string)";
  }
  std::string user, host, port, db;
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    if (!o->val) continue;
    std::string_view k = o->keyword;
    if (k == "user") user = o->val;
    if (k == "host" || (k == "hostaddr" && host.empty())) host = o->val;
    if (k == "port") port = o->val;
    if (k == "dbname") db = o->val;
  }
  PQconninfoFree(opts);
  std::string out = "postgresql://";
  if (!user.empty()) out += user + "@";
  out += host;
  if (!port.empty()) out += ":" + port;
  out += "/" + db;
  return out;
}

Status Conn::Connect(const std::string& url) {
  Close();
  url_ = url;
  where_ = "postgres " + Redact(url);
  // connect_timeout bounds a dead host; the URL's own values come later and win.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* vals[] = {"10", "sx", url.c_str(), nullptr};
  conn_ = PQconnectStartParams(keys, vals, /*expand_dbname=*/1);
  if (conn_ == nullptr) return Status::IOError(where_ + ": out of memory opening a connection");
  // libpq's own loop would wait on the socket inside libpq; this one waits
  // through the waiter, so a parked caller lets the others run. libpq keeps
  // connect_timeout only in that loop: the deadline is kept here.
  int timeout_s = ConnectTimeout(conn_);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;  // as libpq's docs begin
  while (PQstatus(conn_) != CONNECTION_BAD && st != PGRES_POLLING_OK &&
         st != PGRES_POLLING_FAILED) {
    int left_ms = -1;
    if (timeout_s > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        Close();
        return Status::IOError(where_ + ": cannot connect: timeout expired after " +
                               std::to_string(timeout_s) + " s (connect_timeout)");
      }
      left_ms = static_cast<int>(left.count());
    }
    Wait(st == PGRES_POLLING_READING ? POLLIN : POLLOUT, left_ms);
    st = PQconnectPoll(conn_);
  }
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string why = Trim(PQerrorMessage(conn_));
    Close();
    return Status::IOError(where_ + ": cannot connect: " + why);
  }
  // Server notices ("schema already exists, skipping") are not for our users.
  PQsetNoticeProcessor(
      conn_, [](void*, const char*) {}, nullptr);
  if (PQsetnonblocking(conn_, 1) != 0) {
    std::string why = Trim(PQerrorMessage(conn_));
    Close();
    return Status::IOError(where_ + ": cannot enter non-blocking mode: " + why);
  }
  return Status::OK();
}

void Conn::Wait(short events, int timeout_ms) {
  int fd = conn_ ? PQsocket(conn_) : -1;
  if (fd < 0) return;
  if (waiter_) {
    waiter_(fd, events, timeout_ms);
    return;
  }
  pollfd p{fd, events, 0};
  poll(&p, 1, timeout_ms);  // EINTR too is an early return
}

void Conn::Sleep(int timeout_ms) {
  if (waiter_) {
    waiter_(-1, 0, timeout_ms);
    return;
  }
  poll(nullptr, 0, timeout_ms);
}

// PQflush returns 1 while output is left; the server may be waiting for us
// to read before it reads more, so input is taken in meanwhile.
bool Conn::Flush() {
  for (;;) {
    int r = PQflush(conn_);
    if (r <= 0) return r == 0;
    Wait(POLLIN | POLLOUT, -1);
    if (!PQconsumeInput(conn_)) return false;
  }
}

PGresult* Conn::NextResult() {
  while (PQisBusy(conn_)) {
    Wait(POLLIN, -1);
    // A failed read marks the connection lost; PQgetResult then reports it
    // without waiting.
    if (!PQconsumeInput(conn_)) break;
  }
  return PQgetResult(conn_);
}

Status Conn::Finish(std::string_view what, Rows* out) {
  Status s;
  bool kept = false;
  while (PGresult* r = NextResult()) {
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      if (s.ok()) {
        s = Fail(what, r);
      } else {
        PQclear(r);
      }
    } else if (out != nullptr && !kept && s.ok()) {
      *out = Rows(r);
      kept = true;
    } else {
      PQclear(r);
    }
    if (conn_ == nullptr) break;
  }
  if (s.ok() && broken()) s = Fail(what, nullptr);
  return s;
}

Status Conn::Reconnect() { return Connect(url_); }

void Conn::Close() {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
  prepared_.clear();
}

bool Conn::broken() const { return conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK; }

std::string Conn::QuoteIdent(std::string_view name) const {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

Status Conn::Fail(std::string_view what, PGresult* r) {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  sqlstate_ = state ? state : "";
  const char* constraint = r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : nullptr;
  constraint_ = constraint ? constraint : "";
  std::string msg = Trim(r ? PQresultErrorMessage(r) : "");
  if (msg.empty() && conn_) msg = Trim(PQerrorMessage(conn_));
  if (r) PQclear(r);
  if (broken()) {
    ClearError();
    return Status::IOError(where_ + ": connection lost during " + std::string(what) + ": " + msg);
  }
  return Status::IOError(where_ + ": " + std::string(what) + " failed: " + msg);
}

Status Conn::Run(const char* name, const char* sql, const std::vector<Param>& params, Rows* out) {
  Begin();
  Status s = RunNow(name, sql, params, out);
  Done();
  return s;
}

Status Conn::RunNow(const char* name, const char* sql, const std::vector<Param>& params,
                    Rows* out) {
  ClearError();
  if (conn_ == nullptr) return Status::IOError(where_ + ": not connected");
  std::vector<Oid> types;
  std::vector<const char*> values;
  std::vector<int> lengths, formats;
  for (const Param& p : params) {
    types.push_back(p.type);
    values.push_back(p.null ? nullptr : p.bytes.data());
    lengths.push_back(static_cast<int>(p.bytes.size()));
    formats.push_back(1);
  }
  int n = static_cast<int>(params.size());
  if (!prepared_.count(name)) {
    std::string what = std::string("preparing ") + name;
    if (!PQsendPrepare(conn_, name, sql, n, types.data()) || !Flush()) return Fail(what, nullptr);
    Status s = Finish(what, nullptr);
    if (!s.ok()) return s;
    prepared_.insert(name);
  }
  if (!PQsendQueryPrepared(conn_, name, n, values.data(), lengths.data(), formats.data(),
                           /*binary=*/1) ||
      !Flush()) {
    return Fail(name, nullptr);
  }
  return Finish(name, out);
}

Status Conn::SendSteps(std::vector<Step>* steps, std::vector<std::pair<size_t, bool>>* sent) {
  if (PQpipelineStatus(conn_) == PQ_PIPELINE_OFF && !PQenterPipelineMode(conn_)) {
    return Fail("entering pipeline mode", nullptr);
  }
  for (size_t i = 0; i < steps->size(); ++i) {
    Step& st = (*steps)[i];
    std::vector<Oid> types;
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (const Param& p : st.params) {
      types.push_back(p.type);
      values.push_back(p.null ? nullptr : p.bytes.data());
      lengths.push_back(static_cast<int>(p.bytes.size()));
      formats.push_back(1);
    }
    int n = static_cast<int>(st.params.size());
    if (!prepared_.count(st.name)) {
      if (!PQsendPrepare(conn_, st.name, st.sql, n, types.data())) {
        return Fail(std::string("preparing ") + st.name, nullptr);
      }
      // Counted as prepared from here, so that a flight sent behind this one
      // does not prepare it again; a prepare that fails is forgotten.
      prepared_.insert(st.name);
      sent->emplace_back(i, true);
    }
    if (!PQsendQueryPrepared(conn_, st.name, n, values.data(), lengths.data(), formats.data(), 1)) {
      return Fail(st.name, nullptr);
    }
    sent->emplace_back(i, false);
  }
  if (!PQpipelineSync(conn_) || !Flush()) return Fail("pipeline sync", nullptr);
  return Status::OK();
}

Status Conn::ReadSteps(std::vector<Step>* steps, const std::vector<std::pair<size_t, bool>>& sent) {
  Status s;
  for (const auto& [i, is_prepare] : sent) {
    Step& st = (*steps)[i];
    PGresult* r = NextResult();
    if (r == nullptr) {
      if (s.ok()) s = Fail(st.name, nullptr);
      break;
    }
    ExecStatusType rs = PQresultStatus(r);
    if (rs == PGRES_COMMAND_OK || rs == PGRES_TUPLES_OK) {
      if (is_prepare || st.out == nullptr) {
        PQclear(r);
      } else {
        *st.out = Rows(r);
      }
    } else {
      if (is_prepare) prepared_.erase(st.name);
      if (rs == PGRES_PIPELINE_ABORTED || !s.ok()) {
        PQclear(r);
      } else {
        failed_step_ = i;  // Fail forgets it when the connection broke
        s = Fail(is_prepare ? std::string("preparing ") + st.name : std::string(st.name), r);
      }
    }
    if (broken()) break;
    // Each statement's results end with a null.
    while (PGresult* extra = NextResult()) PQclear(extra);
  }
  if (!broken()) {
    // The sync's own result.
    while (PGresult* r = NextResult()) {
      bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
      PQclear(r);
      if (sync) break;
    }
  }
  if (s.ok() && broken()) s = Fail("pipeline", nullptr);
  return s;
}

Status Conn::Pipeline(std::vector<Step>* steps) {
  Begin();
  ClearError();
  Status s;
  if (conn_ == nullptr) {
    s = Status::IOError(where_ + ": not connected");
  } else {
    std::vector<std::pair<size_t, bool>> sent;
    s = SendSteps(steps, &sent);
    if (s.ok()) s = ReadSteps(steps, sent);
    if (conn_ != nullptr && !broken()) PQexitPipelineMode(conn_);
  }
  Done();
  return s;
}

Status Conn::Send(std::vector<Step>* steps, Flight* flight, const Step* lead) {
  WaitUntil([this] { return !in_use_; });
  ClearError();
  flight->sent.clear();
  flight->led = lead != nullptr && flights() > 0;
  if (flight->led) steps->insert(steps->begin(), *lead);
  Status s;
  if (conn_ == nullptr) {
    s = Status::IOError(where_ + ": not connected");
  } else {
    in_use_ = true;  // a Flush may wait: no other call may write meanwhile
    s = SendSteps(steps, &flight->sent);
    in_use_ = false;
    // Part of a pipeline may have gone without its sync: the session is
    // no use, and the flights out end as lost with it.
    if (!s.ok()) Close();
  }
  flight->number = sent_++;
  if (waiting_ > waiting_turn_) Wake();  // a caller waits for the connection, not a turn
  return s;
}

Status Conn::Receive(std::vector<Step>* steps, const Flight& flight) {
  ++waiting_turn_;
  WaitUntil([&] { return received_ == flight.number; });
  --waiting_turn_;
  ClearError();
  Status s;
  if (conn_ == nullptr) {
    s = Status::IOError(where_ + ": connection lost during " +
                        (steps->empty() ? "a pipeline" : steps->front().name));
  } else if (flight.sent.empty()) {
    s = Status::IOError(where_ + ": nothing was sent");  // Send failed
  } else {
    s = ReadSteps(steps, flight.sent);
  }
  ++received_;
  if (received_ == sent_ && !in_use_ && conn_ != nullptr && !broken()) PQexitPipelineMode(conn_);
  Wake();
  return s;
}

void Conn::Begin() {
  WaitUntil([this] { return !in_use_ && sent_ == received_; });
  in_use_ = true;
  if (conn_ != nullptr && PQpipelineStatus(conn_) != PQ_PIPELINE_OFF) PQexitPipelineMode(conn_);
}

void Conn::Done() {
  in_use_ = false;
  Wake();
}

void Conn::WaitUntil(const std::function<bool()>& ready) {
  while (!ready()) {
    if (wake_fd_ < 0) wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    // Without an eventfd (out of descriptors), look again every millisecond.
    int timeout_ms = wake_fd_ < 0 ? 1 : -1;
    ++waiting_;
    if (waiter_) {
      waiter_(wake_fd_, POLLIN, timeout_ms);
    } else {
      pollfd p{wake_fd_, POLLIN, 0};
      poll(&p, 1, timeout_ms);
    }
    --waiting_;
    // The wake-up is spent; every caller it woke looks again, and one still
    // not ready waits for the next.
    if (wake_pending_) {
      uint64_t n = 0;
      ssize_t r = read(wake_fd_, &n, sizeof n);
      (void)r;
      wake_pending_ = false;
    }
  }
}

void Conn::Wake() {
  if (waiting_ == 0 || wake_fd_ < 0 || wake_pending_) return;
  uint64_t one = 1;
  ssize_t r = write(wake_fd_, &one, sizeof one);
  (void)r;
  wake_pending_ = true;
}

Status Conn::Exec(const std::string& sql) {
  Begin();
  Status s = ExecNow(sql);
  Done();
  return s;
}

Status Conn::ExecNow(const std::string& sql) {
  ClearError();
  if (conn_ == nullptr) return Status::IOError(where_ + ": not connected");
  std::string what = sql.substr(0, sql.find_first_of(" \n;"));
  if (!PQsendQuery(conn_, sql.c_str()) || !Flush()) return Fail(what, nullptr);
  return Finish(what, nullptr);
}

}  // namespace sx::pg
