// pg_bench: the PostgreSQL backend against plain libpq on the same server,
// in one run, each figure with its ratio and the target of issue 17.
//
//   scripts/pg_server.sh run build/pg_bench [--quick]
//
// (or SX_PG_URL=postgresql://... build/pg_bench). Every write is
// durable (synchronous_commit as the server has it).
//
// 1. 64 tasks appending in one process: the op table's group commit hands
//    the backend the 64 tasks' appends as one group (CommitGroup of 64
//    batches, one transaction); against one task (one append per commit)
//    and against plain libpq inserting the same rows, one transaction per
//    event and 64 events per transaction. Targets: >= 10x one task, >= 0.8x
//    batched libpq.
// 2. 8 processes x 8 tasks (groups of 8) against 8 libpq connections
//    inserting 8 events per transaction. Target: >= 0.8x. Each process
//    writes 50 untimed groups first, and the 8 windows open together.
// 1 also runs SX tasks through the sx host (sx::host::Host, as `sx --store
// URL` runs a script): 1 task and 64 tasks appending, the op table's group
// commit making the groups. 1 and 2 also run the backend with
// PgOptions::one_round_trip off, so that
// what the one-round-trip way gains is measured in the same run.
// 3. A follower waiting with WaitForCommit sees a commit within 100 ms
//    (median; p99 reported).
// Beside the 64-task figure and its batched baseline, the CPU each spends
// per event: this process's (client) and the server's (every process named
// postgres on this machine, read from /proc; 0 when the server runs
// elsewhere). `--only FIGURE SECONDS` runs one figure alone (see --help),
// with the same CPU figures, to watch it with perf or strace.
#include <dirent.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <new>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "host/cli/setup.h"
#include "host/pg/pg_backend.h"
#include "host/pg/pg_conn.h"
#include "sx/sx.h"

namespace {

using sx::backend::Backend;
using sx::pg::Conn;
using sx::store::Status;
using sx::store::WriteBatch;
using Clock = std::chrono::steady_clock;

constexpr size_t kPayloadBytes = 200;
// The baseline's statement: a batch of events as three binary arrays.
constexpr char kBaseInsert[] =
    "INSERT INTO bench_base.events SELECT * FROM unnest($1::bytea[], $2::int8[], $3::bytea[])";
std::string g_url;
double g_seconds = 1.0;
int g_rounds = 7;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The CPU time of every process named postgres on this machine (user and
// system, with that of their finished children), in microseconds; 0 when
// the server runs elsewhere. A diagnostic: what a figure cost the server.
double ServerCpuUs() {
  static const double kTickUs = 1e6 / sysconf(_SC_CLK_TCK);
  double sum = 0;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return 0;
  while (dirent* e = readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream in(std::string("/proc/") + e->d_name + "/stat");
    std::string line;
    if (!std::getline(in, line)) continue;
    size_t open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    if (line.compare(open + 1, close - open - 1, "postgres") != 0) continue;
    std::istringstream fields(line.substr(close + 2));
    std::string f;
    // After the name: state is field 3; utime..cstime are fields 14-17.
    for (int i = 3; i <= 17 && fields >> f; ++i) {
      if (i >= 14) sum += std::stod(f) * kTickUs;
    }
  }
  closedir(proc);
  return sum;
}

// The CPU time of this process and of its children that have ended, in
// microseconds.
double OurCpuUs() {
  rusage self{}, children{};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &children);
  auto us = [](const timeval& t) { return t.tv_sec * 1e6 + t.tv_usec; };
  return us(self.ru_utime) + us(self.ru_stime) + us(children.ru_utime) + us(children.ru_stime);
}

// The CPU the client (this process and its children) and the server spend
// from the meter's making on, per event of the run it measures.
class CpuMeter {
 public:
  CpuMeter() : client_(OurCpuUs()), server_(ServerCpuUs()) {}
  double ClientPer(double events) const { return (OurCpuUs() - client_) / events; }
  double ServerPer(double events) const { return (ServerCpuUs() - server_) / events; }

 private:
  double client_, server_;
};

void Die(const std::string& what) {
  std::fprintf(stderr, "pg_bench: %s\n", what.c_str());
  std::exit(1);
}

void Check(const Status& s, const char* what) {
  if (!s.ok()) Die(std::string(what) + ": " + s.ToString());
}

std::unique_ptr<Backend> OpenBackend(const std::string& schema, bool one_round_trip = true) {
  sx::pg::PgOptions o;
  o.url = g_url;
  o.schema = schema;
  o.one_round_trip = one_round_trip;
  std::unique_ptr<Backend> db;
  Check(sx::pg::OpenPostgres(o, &db), "open");
  return db;
}

void ResetSchemas() {
  Conn c;
  Check(c.Connect(g_url), "connect");
  Check(c.Exec("DROP SCHEMA IF EXISTS bench_sx CASCADE; DROP SCHEMA IF EXISTS bench_base CASCADE;"
               "CREATE SCHEMA bench_base; CREATE TABLE bench_base.events ("
               "stream bytea NOT NULL, seq bigint NOT NULL, payload bytea NOT NULL, "
               "PRIMARY KEY (stream, seq))"),
        "reset");
}

// What a run does before its timed window: `groups` untimed groups (a new
// session's first groups plan its statements, and the backend's learn its
// streams), then `ready` (which waits for the other processes of a figure).
struct Warm {
  int groups = 0;
  std::function<void()> ready;
};

// The 8 x 8 figures' warm-up: a session's warm-up is paid once in its
// life, not in every second of it.
constexpr int kWarmGroups = 50;

// Runs `step` (which writes `per_step` events) warm.groups times, calls
// warm.ready, then runs it until `seconds` are up; returns the timed
// window's events/s.
double WarmThenTime(const Warm& warm, double seconds, int per_step,
                    const std::function<void()>& step) {
  for (int i = 0; i < warm.groups; ++i) step();
  if (warm.ready) warm.ready();
  uint64_t events = 0;
  Clock::time_point start = Clock::now();
  while (Seconds(start) < seconds) {
    step();
    events += per_step;
  }
  return events / Seconds(start);
}

// `tasks` tasks, each with a stream of its own, one batch each per
// CommitGroup; appends until the time is up (after `warm`). Returns
// events/s.
double BackendRate(Backend* db, int tasks, const std::string& prefix, double seconds,
                   const Warm& warm = {}) {
  std::vector<uint64_t> next(tasks, 1);
  std::string payload(kPayloadBytes, 'p');
  std::vector<WriteBatch> batches(tasks);
  std::vector<const WriteBatch*> group;
  std::vector<Status> results;
  auto commit_group = [&] {
    group.clear();
    for (int t = 0; t < tasks; ++t) {
      batches[t].Clear();
      batches[t].Append(prefix + std::to_string(t), next[t]++, payload);
      group.push_back(&batches[t]);
    }
    db->CommitGroup(group, &results);
    for (const Status& s : results) Check(s, "commit");
  };
  return WarmThenTime(warm, seconds, tasks, commit_group);
}

// Through the sx host, as a script runs: SX tasks each append to a stream
// of their own (the op table's group commit gathers each scheduler round's
// appends). One host serves every run, its connection opened once, as the
// backend's figures reuse theirs: a new session would put its warm-up (the
// function's plans, the catalog caches) into the timing.
class HostRunner {
 public:
  // `params`: more of the URL's query ("overlap=off").
  explicit HostRunner(const std::string& params = "")
      : host_(Options(params)), in_(host_.interp()) {
    Run("(define payload \"" + std::string(kPayloadBytes, 'p') + "\")\n" + R"(
      (define (writer name n)
        (fn () (for-each (fn (i) (perform {:op "persist/append"
                                           :args (list name {:seq (+ i 1) :p payload})}))
                         (range n))))
      (perform {:op "persist/streams" :args ()}))");  // connects outside the timing
  }

  // `tasks` tasks append `per_task` events each; returns events/s.
  double Rate(int tasks, int per_task, const std::string& prefix) {
    int64_t before = Appends();
    Clock::time_point start = Clock::now();
    Run("(for-each await (map (fn (t) (spawn (writer (str \"" + prefix + "\" t) " +
        std::to_string(per_task) + "))) (range " + std::to_string(tasks) + ")))");
    double secs = Seconds(start);
    if (Appends() - before != static_cast<int64_t>(tasks) * per_task) Die("appends went missing");
    return tasks * per_task / secs;
  }

 private:
  static sx::host::HostOptions Options(const std::string& params) {
    sx::host::HostOptions opts;
    opts.data_dir = g_url + (g_url.find('?') == std::string::npos ? "?" : "&") + "schema=bench_sx";
    if (!params.empty()) opts.data_dir += "&" + params;
    return opts;
  }
  sx::Outcome Run(const std::string& src) {
    sx::Outcome o = in_.Run(in_.Eval(src, "<pg_bench>"));
    if (o.status != sx::Status::kDone) Die(o.error_text);
    return o;
  }
  int64_t Appends() {
    return Run("(get (perform {:op \"persist/stats\" :args ()}) :appends)").value.AsInt();
  }

  sx::host::Host host_;
  sx::Interpreter& in_;
};

// Events per task that keep the host's figures near g_seconds each: 64
// tasks append 40-75k events/s here, one task about 4k.
int HostEventsPerTask(int tasks) {
  return std::max(10, static_cast<int>(g_seconds * (tasks == 1 ? 4000 : 800)));
}

// Plain libpq: `per_txn` events per transaction (1: autocommit INSERTs), a
// multi-row INSERT of binary arrays for a batch. Returns events/s.
double LibpqRate(int per_txn, const std::string& prefix, double seconds, const Warm& warm = {}) {
  Conn c;
  Check(c.Connect(g_url), "connect");
  std::string payload(kPayloadBytes, 'p');
  uint64_t seq = 1;
  std::vector<std::string> names(per_txn);
  for (int i = 0; i < per_txn; ++i) names[i] = prefix + std::to_string(i);
  auto insert = [&] {
    if (per_txn == 1) {
      Check(c.Run("one", "INSERT INTO bench_base.events VALUES ($1, $2, $3)",
                  {sx::pg::ByteaParam(prefix), sx::pg::Int8Param(static_cast<int64_t>(seq++)),
                   sx::pg::ByteaParam(payload)}),
            "insert");
      return;
    }
    std::vector<const std::string*> streams, payloads;
    std::vector<int64_t> seqs;
    for (int i = 0; i < per_txn; ++i) {
      streams.push_back(&names[i]);
      payloads.push_back(&payload);
      seqs.push_back(static_cast<int64_t>(seq));
    }
    ++seq;
    std::vector<Conn::Step> steps;
    steps.push_back(Conn::Step{"begin", "BEGIN", {}, nullptr});
    steps.push_back(Conn::Step{"many",
                               kBaseInsert,
                               {sx::pg::ByteaArrayParam(streams), sx::pg::Int8ArrayParam(seqs),
                                sx::pg::ByteaArrayParam(payloads)},
                               nullptr});
    steps.push_back(Conn::Step{"commit", "COMMIT", {}, nullptr});
    Check(c.Pipeline(&steps), "batch");
  };
  return WarmThenTime(warm, seconds, per_txn, insert);
}

// Runs fn(i, warm) in `procs` processes at once; returns the sum of their
// rates. Each process writes kWarmGroups groups and then waits for the
// others before its window opens, so that the windows overlap (no process
// times its run while others are still connecting) and no session's
// warm-up is timed.
template <typename Fn>
double InProcesses(int procs, Fn fn) {
  struct Shared {
    std::atomic<int> ready;
    double rates[64];
  };
  if (procs > 64) Die("too many processes");
  void* mem =
      mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) Die("mmap");
  auto* shared = new (mem) Shared{};
  Warm warm;
  warm.groups = kWarmGroups;
  warm.ready = [shared, procs] {
    shared->ready.fetch_add(1);
    Clock::time_point since = Clock::now();
    while (shared->ready.load() < procs) {
      if (Seconds(since) > 60) Die("the other processes never got ready");
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  };
  std::vector<pid_t> pids;
  for (int i = 0; i < procs; ++i) {
    pid_t pid = fork();
    if (pid < 0) Die("fork");
    if (pid == 0) {
      shared->rates[i] = fn(i, warm);
      _exit(0);
    }
    pids.push_back(pid);
  }
  double sum = 0;
  for (int i = 0; i < procs; ++i) {
    int status = 0;
    waitpid(pids[i], &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) Die("a process failed");
    sum += shared->rates[i];
  }
  munmap(mem, sizeof(Shared));
  return sum;
}

// One figure's rate in each round.
class Series {
 public:
  void Add(double rate) { rates_.push_back(rate); }
  double Median() const { return MedianOf(rates_); }
  double Last() const { return rates_.back(); }
  // The median over the rounds of this figure's rate / the other's.
  double MedianRatio(const Series& other) const {
    std::vector<double> ratios;
    for (size_t i = 0; i < rates_.size() && i < other.rates_.size(); ++i) {
      ratios.push_back(other.rates_[i] > 0 ? rates_[i] / other.rates_[i] : 0);
    }
    return MedianOf(ratios);
  }

 private:
  static double MedianOf(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }
  std::vector<double> rates_;
};

void Row(const char* what, double value, const char* unit) {
  std::printf("  %-52s %12.0f %s\n", what, value, unit);
}

void Ratio(const char* what, double ratio, double target, bool at_least = true) {
  bool ok = at_least ? ratio >= target : ratio <= target;
  std::printf("  %-52s %11.2fx  (target %s %.2fx: %s)\n", what, ratio,
              at_least ? ">=" : "<=", target, ok ? "met" : "NOT met");
}

// The figures --only runs alone: each returns its rate; *events, how many
// events it wrote.
// --overlap: what a client that spends CPU on each event before it can
// send it (the sx host runs SX tasks and plans their ops: about 3.5 us an
// append beyond libpq's own) loses when a round's group waits for the one
// before, and what two transactions in flight on one connection would win
// back: a round's two halves each a transaction, pipelined, so that the
// client makes one half while the server runs the other. Plain libpq and
// the baseline's statement; no sx code runs.
constexpr double kThinkUs = 3.5;

class OverlapConn {
 public:
  OverlapConn() {
    Check(c_.Connect(g_url), "connect");
    if (!PQenterPipelineMode(c_.raw())) Die("pipeline mode");
  }
  // Sends a transaction of n events, one to each of the streams prefix +
  // first ... first + n - 1, at seq; does not wait for its answer.
  void Send(const std::string& prefix, int first, int n, int64_t seq) {
    std::vector<std::string> names;
    for (int i = 0; i < n; ++i) names.push_back(prefix + std::to_string(first + i));
    std::vector<const std::string*> streams, payloads;
    for (const std::string& name : names) {
      streams.push_back(&name);
      payloads.push_back(&payload_);
    }
    std::vector<sx::pg::Param> params = {sx::pg::ByteaArrayParam(streams),
                                         sx::pg::Int8ArrayParam(std::vector<int64_t>(n, seq)),
                                         sx::pg::ByteaArrayParam(payloads)};
    Oid types[3];
    const char* values[3];
    int lengths[3], formats[3] = {1, 1, 1};
    for (int i = 0; i < 3; ++i) {
      types[i] = params[i].type;
      values[i] = params[i].bytes.data();
      lengths[i] = static_cast<int>(params[i].bytes.size());
    }
    PGconn* c = c_.raw();
    bool ok = PQsendQueryParams(c, "BEGIN", 0, nullptr, nullptr, nullptr, nullptr, 1) &&
              PQsendQueryParams(c, kBaseInsert, 3, types, values, lengths, formats, 1) &&
              PQsendQueryParams(c, "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 1) &&
              PQpipelineSync(c);
    while (ok && PQflush(c) == 1) {
    }
    if (!ok) Die(std::string("send: ") + PQerrorMessage(c));
  }
  // Reads the answer of the oldest transaction sent.
  void Receive() {
    PGconn* c = c_.raw();
    for (int q = 0; q < 3; ++q) {
      PGresult* r = PQgetResult(c);
      if (r == nullptr || PQresultStatus(r) != PGRES_COMMAND_OK) {
        Die(std::string("receive: ") + (r ? PQresultErrorMessage(r) : PQerrorMessage(c)));
      }
      PQclear(r);
      if ((r = PQgetResult(c)) != nullptr) Die("receive: a second result");
    }
    PGresult* r = PQgetResult(c);
    if (r == nullptr || PQresultStatus(r) != PGRES_PIPELINE_SYNC) Die("receive: no sync");
    PQclear(r);
  }

 private:
  Conn c_;
  std::string payload_ = std::string(kPayloadBytes, 'p');
};

// Spins for us microseconds: the client's own work on the events.
void Think(double us) {
  Clock::time_point end = Clock::now() + std::chrono::nanoseconds(static_cast<int64_t>(us * 1000));
  while (Clock::now() < end) {
  }
}

// 64 events a round, think_us of client CPU each before they can go: as
// one transaction that waits for the one before, or (halves) as two of 32
// with one of them always in flight. Returns events/s.
double OverlapRate(double think_us, bool halves, const std::string& prefix, double seconds) {
  OverlapConn oc;
  int64_t seq[2] = {1, 1};
  uint64_t events = 0;
  Clock::time_point start = Clock::now();
  if (!halves) {
    while (Seconds(start) < seconds) {
      Think(think_us * 64);
      oc.Send(prefix, 0, 64, seq[0]++);
      oc.Receive();
      events += 64;
    }
    return events / Seconds(start);
  }
  Think(think_us * 32);
  oc.Send(prefix, 0, 32, seq[0]++);
  for (int half = 1; Seconds(start) < seconds; half ^= 1) {
    Think(think_us * 32);  // the half whose answer came back runs on
    oc.Send(prefix, half * 32, 32, seq[half]++);
    oc.Receive();  // the other half's
    events += 32;
  }
  oc.Receive();
  events += 32;
  return events / Seconds(start);
}

void RunOverlap() {
  std::printf("overlap: 64 events a round, %.1f us of client CPU an event (medians of %d)\n",
              kThinkUs, g_rounds);
  Series base, serial, halves;
  Series base_srv, serial_srv, halves_srv;
  for (int round = 0; round < g_rounds; ++round) {
    std::string r = std::to_string(round);
    CpuMeter m1;
    base.Add(OverlapRate(0, false, "ob" + r + "-", g_seconds));
    base_srv.Add(m1.ServerPer(base.Last() * g_seconds));
    CpuMeter m2;
    serial.Add(OverlapRate(kThinkUs, false, "os" + r + "-", g_seconds));
    serial_srv.Add(m2.ServerPer(serial.Last() * g_seconds));
    CpuMeter m3;
    halves.Add(OverlapRate(kThinkUs, true, "oh" + r + "-", g_seconds));
    halves_srv.Add(m3.ServerPer(halves.Last() * g_seconds));
  }
  Row("libpq, 64 a transaction, no client work", base.Median(), "events/s");
  Row("the same, client work first", serial.Median(), "events/s");
  Row("two halves in flight on one connection", halves.Median(), "events/s");
  std::printf("  %-52s %11.2fx\n", "client work first / none", serial.MedianRatio(base));
  std::printf("  %-52s %11.2fx\n", "two halves in flight / none", halves.MedianRatio(base));
  std::printf("  %-52s %5.2f %5.2f %5.2f us\n", "server CPU per event (the three)",
              base_srv.Median(), serial_srv.Median(), halves_srv.Median());
}

// The host's 64-task figure alone, with `params` in the URL's query.
double HostOnly(const std::string& params, double* events) {
  HostRunner host(params);
  int per_task = HostEventsPerTask(64);
  *events = 64.0 * per_task;
  return host.Rate(64, per_task, "only-");
}

using OnlyFigure = double (*)(double* events);
const std::pair<const char*, OnlyFigure> kOnly[] = {
    {"backend64",
     [](double* events) {
       auto db = OpenBackend("bench_sx");
       double rate = BackendRate(db.get(), 64, "only-", g_seconds);
       *events = rate * g_seconds;
       return rate;
     }},
    {"libpq64",
     [](double* events) {
       double rate = LibpqRate(64, "only-", g_seconds);
       *events = rate * g_seconds;
       return rate;
     }},
    {"host64", [](double* events) { return HostOnly("", events); }},
    {"host64on", [](double* events) { return HostOnly("overlap=on", events); }},
    {"host64off", [](double* events) { return HostOnly("overlap=off", events); }},
    {"backend8x8",
     [](double* events) {
       double rate = InProcesses(8, [](int i, const Warm& warm) {
         auto db = OpenBackend("bench_sx");
         return BackendRate(db.get(), 8, "only" + std::to_string(i) + "-", g_seconds, warm);
       });
       *events = rate * g_seconds;
       return rate;
     }},
    {"libpq8x8",
     [](double* events) {
       double rate = InProcesses(8, [](int i, const Warm& warm) {
         return LibpqRate(8, "only" + std::to_string(i) + "-", g_seconds, warm);
       });
       *events = rate * g_seconds;
       return rate;
     }},
};

}  // namespace

constexpr char kUsage[] =
    "usage: pg_bench [--quick] [--only FIGURE SECONDS] [--overlap SECONDS]\n"
    "  --quick  3 rounds of 0.4 s per figure (default: 7 rounds of 1 s)\n"
    "  --only   runs one figure for SECONDS and prints its rate and the CPU\n"
    "           per event of the client and the server (to watch it with perf\n"
    "           or strace); FIGURE is backend64, libpq64, host64 (64 SX tasks,\n"
    "           about SECONDS long), host64on and host64off (the same with\n"
    "           overlap=on, overlap=off),\n"
    "           backend8x8 or libpq8x8\n"
    "  --overlap SECONDS  3 rounds of plain libpq with client work before each\n"
    "           event: groups that wait for each other against two in flight";

int main(int argc, char** argv) {
  OnlyFigure only = nullptr;
  bool overlap = false;
  const char* only_name = "";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      g_seconds = 0.4;
      g_rounds = 3;
    } else if (std::strcmp(argv[i], "--only") == 0 && i + 2 < argc) {
      only_name = argv[++i];
      for (const auto& [name, fn] : kOnly) {
        if (std::strcmp(name, only_name) == 0) only = fn;
      }
      if (only == nullptr) Die(std::string("unknown figure ") + only_name + "\n" + kUsage);
      g_seconds = std::atof(argv[++i]);
      if (g_seconds <= 0) Die(std::string("bad SECONDS ") + argv[i]);
    } else if (std::strcmp(argv[i], "--overlap") == 0 && i + 1 < argc) {
      overlap = true;
      g_rounds = 3;
      g_seconds = std::atof(argv[++i]);
      if (g_seconds <= 0) Die(std::string("bad SECONDS ") + argv[i]);
    } else if (std::strcmp(argv[i], "--help") == 0) {
      std::puts(kUsage);
      return 0;
    } else {
      Die(std::string("unknown argument ") + argv[i] + "\n" + kUsage);
    }
  }
  const char* url = std::getenv("SX_PG_URL");
  if (url == nullptr || *url == '\0') {
    Die("SX_PG_URL is unset; run: scripts/pg_server.sh run build/pg_bench");
  }
  g_url = url;
  ResetSchemas();
  std::printf("pg_bench: %s, %zu-byte events, %.1f s per figure\n", Conn::Redact(g_url).c_str(),
              kPayloadBytes, g_seconds);

  if (overlap) {
    RunOverlap();
    return 0;
  }
  if (only != nullptr) {
    CpuMeter cpu;
    double events = 0;
    double rate = only(&events);
    std::printf("  %-52s %12.0f events/s\n", only_name, rate);
    std::printf("  %-52s %11.2f us\n", "client CPU per event", cpu.ClientPer(events));
    std::printf("  %-52s %11.2f us\n", "server CPU per event", cpu.ServerPer(events));
    return 0;
  }
  auto db = OpenBackend("bench_sx");
  // The disk's fsync time drifts on a shared machine, within seconds: each
  // round measures every figure once, a figure and its baseline side by
  // side, and a ratio is the median of the rounds' ratios (a rate, the
  // median of its rounds).
  auto db2 = OpenBackend("bench_sx", /*one_round_trip=*/false);
  Series one, many, base1, base64, procs, base_procs;
  Series one2, procs2;  // the backend with two round trips a group
  HostRunner host, host_two("overlap=on"), host_one("overlap=off");
  Series host1, host64;         // through the sx host: SX tasks (overlap=auto)
  Series host64_two;            // two groups at once whenever a round allows
  Series host64_one;            // each round one group, none sent beside another
  Series many_cpu, base64_cpu;  // this process's CPU per event, in us
  Series many_srv, base64_srv;  // the server's CPU per event, in us
  for (int round = 0; round < g_rounds; ++round) {
    std::string r = std::to_string(round);
    one.Add(BackendRate(db.get(), 1, "one" + r + "-", g_seconds));
    base1.Add(LibpqRate(1, "base-one" + r, g_seconds));
    one2.Add(BackendRate(db2.get(), 1, "two" + r + "-", g_seconds));
    CpuMeter many_meter;
    many.Add(BackendRate(db.get(), 64, "task" + r + "-", g_seconds));
    many_cpu.Add(many_meter.ClientPer(many.Last() * g_seconds));
    many_srv.Add(many_meter.ServerPer(many.Last() * g_seconds));
    CpuMeter base_meter;
    base64.Add(LibpqRate(64, "base" + r + "-", g_seconds));
    base64_cpu.Add(base_meter.ClientPer(base64.Last() * g_seconds));
    base64_srv.Add(base_meter.ServerPer(base64.Last() * g_seconds));
    host64.Add(host.Rate(64, HostEventsPerTask(64), "hh" + r + "-"));
    host64_two.Add(host_two.Rate(64, HostEventsPerTask(64), "ht" + r + "-"));
    host64_one.Add(host_one.Rate(64, HostEventsPerTask(64), "ho" + r + "-"));
    host1.Add(host.Rate(1, HostEventsPerTask(1), "h" + r + "-"));
    auto backend8 = [&](const std::string& tag, bool one_round_trip) {
      return [&, tag, one_round_trip](int i, const Warm& warm) {
        auto pdb = OpenBackend("bench_sx", one_round_trip);
        return BackendRate(pdb.get(), 8, tag + r + "." + std::to_string(i) + "-", g_seconds, warm);
      };
    };
    auto libpq8 = [&](const std::string& tag) {
      return [&, tag](int i, const Warm& warm) {
        return LibpqRate(8, tag + r + "." + std::to_string(i) + "-", g_seconds, warm);
      };
    };
    procs.Add(InProcesses(8, backend8("p", true)));
    base_procs.Add(InProcesses(8, libpq8("bp")));
    procs2.Add(InProcesses(8, backend8("q", false)));
  }
  std::printf("\n1. one process, durable appends (medians of %d rounds)\n", g_rounds);
  Row("backend, 1 task (a commit per append)", one.Median(), "events/s");
  Row("backend, 64 tasks (groups of 64)", many.Median(), "events/s");
  Row("backend, 1 task, two round trips a commit", one2.Median(), "events/s");
  Row("libpq, one transaction per event", base1.Median(), "events/s");
  Row("libpq, 64 events per transaction", base64.Median(), "events/s");
  Ratio("64 tasks / 1 task", many.MedianRatio(one), 10);
  Ratio("64 tasks / libpq batched", many.MedianRatio(base64), 0.8);
  std::printf("  %-52s %11.2f us\n", "client CPU per event, backend 64 tasks", many_cpu.Median());
  std::printf("  %-52s %11.2f us\n", "client CPU per event, libpq batched", base64_cpu.Median());
  std::printf("  %-52s %11.2f us\n", "server CPU per event, backend 64 tasks", many_srv.Median());
  std::printf("  %-52s %11.2f us\n", "server CPU per event, libpq batched", base64_srv.Median());
  std::printf("  %-52s %11.2fx\n", "1 task / libpq one per transaction", one.MedianRatio(base1));
  std::printf("  %-52s %11.2fx\n", "one round trip / two (1 task)", one.MedianRatio(one2));
  Row("sx host, 1 SX task", host1.Median(), "events/s");
  Row("sx host, 64 SX tasks", host64.Median(), "events/s");
  Ratio("sx host: 64 tasks / 1 task", host64.MedianRatio(host1), 10);
  Ratio("sx host: 64 tasks / libpq batched", host64.MedianRatio(base64), 0.8);
  Row("sx host, 64 SX tasks, overlap=on", host64_two.Median(), "events/s");
  Row("sx host, 64 SX tasks, overlap=off", host64_one.Median(), "events/s");
  std::printf("  %-52s %11.2fx\n", "sx host: overlap=on / off", host64_two.MedianRatio(host64_one));
  std::printf("  %-52s %11.2fx\n", "sx host: auto (the default) / off",
              host64.MedianRatio(host64_one));

  std::printf("\n2. 8 processes x 8 tasks (medians of %d rounds)\n", g_rounds);
  Row("backend, 8 processes x 8 tasks", procs.Median(), "events/s");
  Row("backend, 8 x 8, two round trips a commit", procs2.Median(), "events/s");
  Row("libpq, 8 connections x 8 events per transaction", base_procs.Median(), "events/s");
  Ratio("backend / libpq batched", procs.MedianRatio(base_procs), 0.8);
  std::printf("  %-52s %11.2fx\n", "one round trip / two (8 x 8)", procs.MedianRatio(procs2));

  std::printf("\n3. a follower (WaitForCommit) sees a commit\n");
  auto follower = OpenBackend("bench_sx");
  std::vector<double> lat_ms;
  uint64_t pos = 0;
  Check(follower->CommitPosition(&pos), "position");
  // Writers learn within a second that someone follows, and send wake-ups
  // from then on: the follower waits a second first (taking its lease), and
  // a commit lets the writer learn, as for a follower that has been
  // following for a while.
  Check(follower->WaitForCommit(pos, 1200, &pos), "wait");
  {
    WriteBatch b;
    b.Append("follow", 1, "x");
    Check(db->Commit(b), "commit");
    uint64_t now = pos;
    while (now <= pos) Check(follower->WaitForCommit(pos, 5000, &now), "wait");
    pos = now;
  }
  int n = g_seconds < 1 ? 30 : 100;
  for (int i = 0; i < n; ++i) {
    std::atomic<bool> go{false};
    Clock::time_point acked;
    std::thread writer([&] {
      while (!go.load()) std::this_thread::yield();
      WriteBatch b;
      b.Append("follow", static_cast<uint64_t>(i + 2), "x");
      Check(db->Commit(b), "commit");
      acked = Clock::now();
    });
    go = true;
    uint64_t now = pos;
    while (now <= pos) Check(follower->WaitForCommit(pos, 5000, &now), "wait");
    Clock::time_point seen = Clock::now();
    writer.join();
    pos = now;
    lat_ms.push_back(
        std::max(0.0, std::chrono::duration<double, std::milli>(seen - acked).count()));
  }
  std::sort(lat_ms.begin(), lat_ms.end());
  double median = lat_ms[lat_ms.size() / 2];
  double p99 = lat_ms[std::min(lat_ms.size() - 1, lat_ms.size() * 99 / 100)];
  std::printf("  %-52s %11.2f ms\n", "commit acknowledged -> follower sees it, median", median);
  std::printf("  %-52s %11.2f ms\n", "... p99", p99);
  std::printf("  %-52s %11s  (target <= 100 ms: %s)\n", "", "", median <= 100 ? "met" : "NOT met");
  return 0;
}
