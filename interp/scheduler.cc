// scheduler.cc — Interpreter::Run: the task scheduler and batched IO.
//
// One loop, in rounds. Run every ready task (the main computation and the
// spawned ones) until each suspends, blocks or finishes; collect the host
// requests the suspended ones wait on; hand them to the batch handlers
// together (the persist service turns a round's writes into one group commit
// there), then to the per-request handlers; resume each task with its own
// answer, through its token, so an answer meant for a task cancelled in the
// meantime is dropped and counted. When nothing is ready and nothing waits
// on IO, wake the sleepers due (sleeping until the first one); when nothing
// sleeps either and the main computation is blocked, it is a deadlock and
// the main computation gets the error. Run returns once the main
// computation has ended and no other task can make progress, or at once
// when an interrupt (Ctrl-C) ended it or came after it ended.
//
// A handler may take a request and answer it later (IoResult::Later): its
// task stays on IO and its token goes on the list of outstanding answers.
// While that list is not empty the host's poller stands in for sleeping: it
// is called with no time to wait when tasks are ready, otherwise with the
// time to the next sleeper's wake (or none), and answers through Answer
// what has completed. With answers outstanding nothing is a deadlock and
// Run does not return, interrupted or not: the host's work in flight must
// end before the loop does.
//
// Everything runs on the caller's thread; IO handlers run synchronously in
// the loop. The machine (tasks.cc) owns the task table; this file only
// drives it.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <new>
#include <thread>

#include "interp/dict.h"
#include "interp/machine.h"
#include "interp/printer.h"
#include "interp/state.h"
#include "sx/sx.h"

namespace sx {

namespace ix = interp;

namespace {

ix::Value Raw(uint64_t bits) { return ix::Value::FromBits(bits); }

// Fails a request for want of memory, without allocating (the message fits
// in the string itself).
void FailOutOfMemory(IoRequest& q) {
  q.result.kind = IoResult::kFailed;
  q.result.value = Value();
  q.result.message = "out of memory";
  q.result.data = Value();
}

}  // namespace

// A handler that runs out of memory fails the requests it had not answered
// with "out of memory": none is served twice, since a batch handler may
// already have written what it did not get to answer.
void Interpreter::ServeBatch(std::vector<IoRequest>& batch) {
  for (BatchIoHandler& h : batch_handlers_) {
    try {
      h(*this, batch);
    } catch (std::bad_alloc&) {
      for (IoRequest& q : batch) {
        if (q.result.kind == IoResult::kPass) FailOutOfMemory(q);
      }
    }
  }
  for (IoRequest& q : batch) {
    if (q.result.kind != IoResult::kPass || q.op.empty()) continue;
    for (IoHandler& h : handlers_) {
      IoResult r;
      try {
        r = h(*this, q.op, q.args, q.request);
      } catch (std::bad_alloc&) {
        FailOutOfMemory(q);
        break;
      }
      if (r.kind != IoResult::kPass) {
        q.result = std::move(r);
        break;
      }
    }
    if (q.result.kind == IoResult::kPass) {
      q.result = IoResult::Failed("no handler for op " + interp::BriefName(q.op));
    }
  }
}

void Interpreter::Poll(int64_t timeout_ns) {
  IoPoller poller = poller_;  // the poller may replace itself
  poller(*this, timeout_ns);
}

bool Interpreter::Answer(uint64_t token, IoResult result) {
  ix::Machine& m = state_->machine();
  auto it = std::find(later_.begin(), later_.end(), token);
  if (it == later_.end()) {
    m.CountStale();  // never taken for later, or answered already
    return false;
  }
  later_.erase(it);
  if (result.kind != IoResult::kServed && result.kind != IoResult::kFailed) {
    result = IoResult::Failed("no answer");
  }
  return Deliver(token, result);
}

bool Interpreter::Deliver(uint64_t token, const IoResult& result) {
  ix::Machine& m = state_->machine();
  if (result.kind == IoResult::kServed) return m.Answer(token, Raw(result.value.bits()), false);
  ix::Value err;
  try {
    err = Raw(MakeError(result.message, result.data).bits());
  } catch (std::bad_alloc&) {
    err = m.OutOfMemory();
  }
  return m.Answer(token, err, true);
}

Outcome Interpreter::Run(Outcome o) {
  ix::Machine& m = state_->machine();
  std::vector<ix::IoWait> io;
  bool main_open = false;
  bool interrupted = false;
  Outcome result = o;
  if (o.status == Status::kSuspended && m.suspended()) {
    m.AdoptMain(Raw(o.value.bits()), &io);
    main_open = true;
  }
  std::vector<IoRequest> batch;
  for (;;) {
    // Sleepers whose time has come join every round, even while other tasks
    // keep the scheduler busy with IO.
    if (m.has_sleepers()) m.WakeSleepers(ix::Machine::NowNs());
    // Work answered later makes progress every round, without a wait.
    if (!later_.empty() && m.has_ready()) Poll(0);
    m.RunReady(&io);
    ix::RunResult r;
    if (m.TakeMainResult(&r)) {
      result = MakeOutcome(static_cast<int>(r.status), r.value.Bits());
      main_open = false;
      if (interrupted) return result;
    }
    if (!io.empty()) {
      batch.clear();
      for (const ix::IoWait& w : io) {
        if (!m.TokenCurrent(w.token)) {
          m.CountStale();  // its task was cancelled after it suspended
          continue;
        }
        IoRequest q;
        q.token = w.token;
        q.request = Wrap(w.request.Bits());
        ix::Value op = ix::IsDict(w.request) ? ix::DictGetView(state_->heap, w.request, "op")
                                             : ix::Value::Undefined();
        if (ix::IsString(op)) {
          q.op = std::string(ix::StringView(op));
          ix::Value args = ix::DictGetView(state_->heap, w.request, "args");
          q.args = Wrap(args.IsUndefined() ? ix::Value::Nil().Bits() : args.Bits());
        } else {
          q.result = IoResult::Failed("perform: a request must be a dict with an :op string, got " +
                                      q.request.Inspect());
        }
        batch.push_back(std::move(q));
      }
      io.clear();
      if (batch.size() > 1) {
        std::rotate(batch.begin(),
                    batch.begin() + static_cast<ptrdiff_t>(m.RoundOffset(batch.size())),
                    batch.end());
      }
      ServeBatch(batch);
      for (IoRequest& q : batch) {
        if (q.result.kind == IoResult::kLater) {
          if (poller_) {
            later_.push_back(q.token);
            continue;
          }
          q.result = IoResult::Failed("op " + interp::BriefName(q.op) +
                                      ": answered later, but the host set no IO poller");
        }
        Deliver(q.token, q.result);
      }
      batch.clear();
      continue;
    }
    if (m.has_ready()) continue;
    // An interrupt while nothing runs: the main task, if it sleeps or
    // awaits, raises "interrupted"; once it has ended, Run stops waiting on
    // the other tasks and leaves them where they are.
    if (m.InterruptWaitingMain()) {
      interrupted = true;
      continue;
    }
    if (!later_.empty()) {
      int64_t wait = -1;
      if (m.has_sleepers()) wait = std::max<int64_t>(0, m.next_wake_ns() - ix::Machine::NowNs());
      Poll(wait);
      continue;
    }
    if (m.has_sleepers()) {
      if (!main_open && m.TakeInterrupt()) return result;
      int64_t wait = m.next_wake_ns() - ix::Machine::NowNs();
      // nanosleep, unlike sleep_for, returns early on a signal (even under
      // SA_RESTART), so a Ctrl-C reaches a sleeping main task at once.
      if (wait > 0) {
        timespec ts{static_cast<time_t>(wait / 1000000000), static_cast<long>(wait % 1000000000)};
        nanosleep(&ts, nullptr);
      }
      m.WakeSleepers(ix::Machine::NowNs());
      continue;
    }
    if (main_open && m.BreakDeadlock()) continue;
    return result;
  }
}

}  // namespace sx
