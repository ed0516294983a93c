// tasks.cc — SX tasks: spawn, await, sleep, yield, cancel, and the machine's
// half of the scheduler.
//
// A task is a Task object (task.h) with an id in `aux`; it is also the SX
// value `spawn` returns. The machine keeps the live tasks, a ready queue,
// the sleepers and, on each task, the tasks awaiting it. `await`, `sleep`
// and `yield` are natives that may suspend: they stop the task with a
// request dict whose :op string is one of three objects the machine made
// (task/await, task/sleep, task/yield), so Park tells them from host IO by
// identity and files the task as blocked, sleeping or ready again. Any other
// suspension is IO: the task waits with a token (id << 32 | generation) that
// the scheduler (Interpreter::Run, scheduler.cc) answers through Answer.
// Every run of a task bumps its generation, so a token answers at most once
// and a token of a cancelled or finished task is rejected and counted.
//
// The main computation (what Eval or Call started) is task 0: Run adopts it
// with AdoptMain, and its end is reported through TakeMainResult.
#include <algorithm>
#include <chrono>

#include "interp/dict.h"
#include "interp/machine_internal.h"

namespace sx::interp {

namespace {

bool IsTaskValue(Value v) { return IsType(v, ObjType::kTask) && v.AsObj()->aux != 0; }

Task* TaskArg(const Args& a, int i) {
  if (!IsTaskValue(a[i])) a.Fail(i, "a task");
  return static_cast<Task*>(a[i].AsObj());
}

Value SpawnNative(const Args& a) {
  Value thunk = a.Callable(0);
  return Value::Object(a.S.machine().Spawn(thunk));
}

Value TasksNative(const Args& a) { return a.S.machine().LiveTasks(); }

Value CancelNative(const Args& a) {
  Task* t = TaskArg(a, 0);
  bool was_live = t->sched != kSchedDone;
  a.S.machine().Cancel(t);
  return Value::Bool(was_live);
}

Value TaskIdNative(const Args& a) { return Value::SmallInt(TaskArg(a, 0)->aux); }

Value TaskDoneNative(const Args& a) { return Value::Bool(TaskArg(a, 0)->sched == kSchedDone); }

Value IsTaskNative(const Args& a) { return Value::Bool(IsTaskValue(a[0])); }

const NativeSpec kTaskNatives[] = {
    {"spawn", 1, 1, SpawnNative,
     "(spawn thunk) — starts a task that calls (thunk); returns the task. It runs when the "
     "current task suspends, blocks or ends.",
     0},
    {"tasks", 0, 0, TasksNative, "(tasks) — the live (spawned, unfinished) tasks, oldest first.",
     0},
    {"cancel", 1, 1, CancelNative,
     "(cancel task) — ends a task that has not finished: awaiting it raises \"cancelled\", and "
     "an answer to its pending request is rejected. True when it was live.",
     0},
    {"task-id", 1, 1, TaskIdNative, "(task-id task) — the task's number.", 0},
    {"task-done?", 1, 1, TaskDoneNative, "(task-done? task) — true once the task has finished.", 0},
    {"task?", 1, 1, IsTaskNative, "(task? x) — true for a task value.", 0},
    {nullptr, 0, 0, nullptr, nullptr, 0},
};

#define SX_TASK_OP(name, min, max, doc) \
  { name, min, max, nullptr, doc, 0 }
const NativeSpec kTaskOps[] = {
    SX_TASK_OP("await", 1, 1,
               "(await task) — the task's value once it finishes; raises its error if it failed."),
    SX_TASK_OP("sleep", 1, 1, "(sleep ms) — suspends this task for ms milliseconds."),
    SX_TASK_OP("yield", 0, 0, "(yield) — lets every other ready task run, then continues."),
};
const MachineOp kTaskOpCodes[] = {MachineOp::kAwait, MachineOp::kSleep, MachineOp::kYield};

}  // namespace

int64_t Machine::NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void Machine::InstallTaskOps() {
  S_.DefineNatives(kTaskNatives);
  for (size_t i = 0; i < sizeof(kTaskOps) / sizeof(kTaskOps[0]); ++i) {
    Value v = S_.MakeNative(&kTaskOps[i]);
    v.AsObj()->aux = static_cast<uint32_t>(kTaskOpCodes[i]);
    S_.DefineGlobal(kTaskOps[i].name, v);
  }
  Value op_key = S_.heap.MakeString("op");
  Value args_key = S_.heap.MakeString("args");
  S_.Root(op_key);
  S_.Root(args_key);
  op_key_ = AsString(op_key);
  args_key_ = AsString(args_key);
  Value names[3] = {S_.heap.MakeString("task/await"), S_.heap.MakeString("task/sleep"),
                    S_.heap.MakeString("task/yield")};
  for (int i = 0; i < 3; ++i) {
    op_names_[i] = names[i];
    S_.Root(names[i]);
  }
  Value d = DictEmpty(S_.heap);
  d = DictAssoc(S_.heap, d, op_key_, op_names_[2]);
  d = DictAssoc(S_.heap, d, args_key_, Value::EmptyList());
  yield_request_ = d;
  S_.Root(d);
}

Value Machine::TaskRequest(int op, Value arg) {
  Value d = DictEmpty(S_.heap);
  d = DictAssoc(S_.heap, d, op_key_, op_names_[op]);
  Value args = S_.heap.Cons(arg, Value::EmptyList());
  return DictAssoc(S_.heap, d, args_key_, args);
}

// --- natives that may suspend ------------------------------------------------------

Machine::Susp Machine::ApplySuspending(MachineLoop& L, Native* nat, size_t base, Value* val) {
  auto& vals = L.vals;
  const Value* args = vals.data() + base + 1;
  size_t n = vals.size() - base - 1;
  if (OpOf(nat) != MachineOp::kFiberNative) return TaskOpApply(nat, args, n, val);
  uint32_t id = 0;
  Susp k = StartFiber(nat, args, n, val, &id);
  if (k == Susp::kSuspended) {
    // The native stays on the stack of its fiber; this frame stands for it.
    L.frames.push_back(Frame{FrameKind::kFiberWait, id, static_cast<uint32_t>(base), nullptr,
                             nullptr, Value::Nil(), Value::Nil()});
  }
  return k;
}

Machine::Susp Machine::TaskOpApply(Native* nat, const Value* args, size_t n, Value* out) {
  const NativeSpec* spec = nat->spec;
  if (static_cast<int>(n) < spec->min_args || static_cast<int>(n) > spec->max_args) {
    ThrowError(S_, std::string(spec->name) + ": expected " + std::to_string(spec->min_args) +
                       " argument" + (spec->min_args == 1 ? "" : "s") + ", got " +
                       std::to_string(n));
  }
  switch (OpOf(nat)) {
    case MachineOp::kAwait: {
      if (!IsTaskValue(args[0])) {
        ThrowError(S_, "await: argument 1 must be a task, got " + Brief(S_, args[0]));
      }
      auto* t = static_cast<Task*>(args[0].AsObj());
      if (t->sched == kSchedDone) {
        *out = t->result;
        return t->failed ? Susp::kThrew : Susp::kFinished;
      }
      *out = TaskRequest(0, args[0]);
      return Susp::kSuspended;
    }
    case MachineOp::kSleep:
      if (!IsNumber(args[0]) || AsDouble(args[0]) < 0) {
        ThrowError(S_, "sleep: argument 1 must be a number of milliseconds (0 or more), got " +
                           Brief(S_, args[0]));
      }
      *out = TaskRequest(1, args[0]);
      return Susp::kSuspended;
    case MachineOp::kYield:
      *out = yield_request_;
      return Susp::kSuspended;
    default:
      ThrowError(S_, std::string(spec->name) + ": unknown machine operation");
  }
}

// --- the task table ---------------------------------------------------------------------

Task* Machine::NewTask() {
  Task* t = S_.heap.New<Task>(ObjType::kTask);
  t->frames = nullptr;
  t->vals = nullptr;
  t->waiters = nullptr;
  t->state = kTaskReady;
  t->sched = kSchedNone;
  t->resume_kind = kResumeStart;
  t->task_op = kTaskOpNone;
  t->failed = false;
  t->gen = 0;
  t->result = t->request = t->resume = t->op_arg = Value::Nil();
  t->wake_ns = 0;
  t->at = nullptr;
  t->frames = new FrameStack();
  t->vals = new ValueStack();
  t->frames->reserve(64);
  return t;
}

Task* Machine::Spawn(Value thunk) {
  Task* t = NewTask();
  t->aux = next_task_id_++;
  if (next_task_id_ == 0) next_task_id_ = 1;
  t->vals->push_back(thunk);
  live_.emplace(t->aux, t);
  MakeReady(t, kResumeStart, Value::Nil());
  return t;
}

Task* Machine::FindTask(uint32_t id) const {
  if (id == 0) return main_;
  auto it = live_.find(id);
  return it == live_.end() ? nullptr : it->second;
}

Value Machine::LiveTasks() {
  std::vector<Task*> ts;
  for (const auto& [id, t] : live_) ts.push_back(t);
  std::sort(ts.begin(), ts.end(), [](Task* a, Task* b) { return a->aux < b->aux; });
  std::vector<Value> items;
  for (Task* t : ts) items.push_back(Value::Object(t));
  return S_.heap.ListFrom(items.data(), items.size());
}

void Machine::MakeReady(Task* t, ResumeKind kind, Value v) {
  t->sched = kSchedReady;
  t->resume_kind = kind;
  t->resume = v;
  ready_.push_back(t);
}

void Machine::FinishTask(Task* t, Value v, bool failed) {
  t->sched = kSchedDone;
  t->state = kTaskDone;
  t->result = v;
  t->failed = failed;
  t->request = t->resume = t->op_arg = Value::Nil();
  t->frames->clear();
  t->vals->clear();
  t->gen++;
  if (t == main_) {
    main_finished_ = true;
    main_result_ = RunResult{failed ? RunStatus::kError : RunStatus::kDone, v};
    main_ = nullptr;
  } else {
    live_.erase(t->aux);
  }
  if (t->waiters != nullptr) {
    std::vector<Task*> waiters;
    waiters.swap(*t->waiters);
    for (Task* w : waiters) {
      if (w->sched == kSchedBlocked && w->op_arg == Value::Object(t)) {
        w->op_arg = Value::Nil();
        MakeReady(w, failed ? kResumeError : kResumeValue, v);
      }
    }
  }
}

void Machine::Cancel(Task* t) {
  if (t->sched == kSchedDone) return;
  if (t == task_) ThrowError(S_, "cancel: a task cannot cancel itself");
  CancelFibers(t);
  sleepers_.erase(std::remove(sleepers_.begin(), sleepers_.end(), t), sleepers_.end());
  Value err = S_.heap.MakeError(S_.heap.MakeString("cancelled"), Value::Nil());
  FinishTask(t, err, true);
}

// --- running -----------------------------------------------------------------------------

RunResult Machine::Step(Task* t) {
  if (task_ != nullptr) task_stack_.push_back(task_);
  task_ = t;
  Value v = t->resume;
  t->resume = Value::Nil();
  Entry e = t->resume_kind == kResumeStart   ? Entry::kApply
            : t->resume_kind == kResumeError ? Entry::kThrow
                                             : Entry::kReturn;
  t->sched = kSchedNone;
  RunResult r = Run(e, v, nullptr, nullptr);
  PopTask();
  return r;
}

int Machine::TaskOpOf(Value request) const {
  if (!IsDict(request)) return -1;
  Value op = DictGet(request, op_key_);
  for (int i = 0; i < 3; ++i) {
    if (op == op_names_[i]) return i;
  }
  return -1;
}

void Machine::Park(Task* t, const RunResult& r, std::vector<IoWait>* io) {
  if (r.status != RunStatus::kSuspended) {
    FinishTask(t, r.value, r.status == RunStatus::kError);
    return;
  }
  switch (TaskOpOf(r.value)) {
    case 0: {  // await
      Value target = Car(DictGet(r.value, args_key_));
      auto* w = static_cast<Task*>(target.AsObj());
      if (w->sched == kSchedDone) {
        MakeReady(t, w->failed ? kResumeError : kResumeValue, w->result);
        return;
      }
      t->sched = kSchedBlocked;
      t->op_arg = target;
      if (w->waiters == nullptr) w->waiters = new std::vector<Task*>();
      w->waiters->push_back(t);
      return;
    }
    case 1: {  // sleep
      double ms = AsDouble(Car(DictGet(r.value, args_key_)));
      t->sched = kSchedSleeping;
      t->wake_ns = NowNs() + static_cast<int64_t>(ms * 1e6);
      sleepers_.push_back(t);
      return;
    }
    case 2:  // yield
      MakeReady(t, kResumeValue, Value::Nil());
      return;
    default:
      t->sched = kSchedIo;
      t->request = r.value;
      io->push_back(IoWait{t, TokenOf(t), r.value});
  }
}

void Machine::AdoptMain(Value request, std::vector<IoWait>* io) {
  Task* t = task_;
  if (t == nullptr || t->state != kTaskSuspended) return;
  if (!task_stack_.empty()) {
    task_ = task_stack_.back();
    task_stack_.pop_back();
  } else {
    task_ = nullptr;
  }
  t->aux = 0;
  main_ = t;
  main_finished_ = false;
  // The request is what the suspended run returned (the Outcome's value).
  Park(t, RunResult{RunStatus::kSuspended, request}, io);
}

void Machine::RunReady(std::vector<IoWait>* io) {
  while (!ready_.empty()) {
    Task* t = ready_.front();
    ready_.pop_front();
    if (t->sched != kSchedReady) continue;  // cancelled while queued
    RunResult r = Step(t);
    Park(t, r, io);
  }
}

bool Machine::TokenCurrent(uint64_t token) const {
  Task* t = FindTask(static_cast<uint32_t>(token >> 32));
  return t != nullptr && t->sched == kSchedIo && t->gen == static_cast<uint32_t>(token);
}

bool Machine::Answer(uint64_t token, Value v, bool error) {
  if (!TokenCurrent(token)) {
    ++stale_resumes_;
    return false;
  }
  Task* t = FindTask(static_cast<uint32_t>(token >> 32));
  t->request = Value::Nil();
  MakeReady(t, error ? kResumeError : kResumeValue, v);
  return true;
}

int64_t Machine::next_wake_ns() const {
  int64_t next = INT64_MAX;
  for (Task* t : sleepers_) next = std::min(next, t->wake_ns);
  return next;
}

void Machine::WakeSleepers(int64_t now_ns) {
  std::vector<Task*> still;
  std::vector<Task*> due;
  for (Task* t : sleepers_) (t->wake_ns <= now_ns ? due : still).push_back(t);
  std::stable_sort(due.begin(), due.end(),
                   [](Task* a, Task* b) { return a->wake_ns < b->wake_ns; });
  sleepers_.swap(still);
  for (Task* t : due) MakeReady(t, kResumeValue, Value::Nil());
}

bool Machine::BreakDeadlock() {
  if (main_ == nullptr || main_->sched != kSchedBlocked) return false;
  Value target = main_->op_arg;
  main_->op_arg = Value::Nil();
  (void)target;
  Value err = S_.heap.MakeError(
      S_.heap.MakeString("deadlock: every task is waiting on another task, nothing can run"),
      Value::Nil());
  MakeReady(main_, kResumeError, err);
  return true;
}

bool Machine::InterruptWaitingMain() {
  if (!interrupt_ || main_ == nullptr) return false;
  if (main_->sched != kSchedSleeping && main_->sched != kSchedBlocked) return false;
  interrupt_ = 0;
  // A stale entry in the awaited task's waiters is ignored (FinishTask
  // checks op_arg).
  sleepers_.erase(std::remove(sleepers_.begin(), sleepers_.end(), main_), sleepers_.end());
  main_->op_arg = Value::Nil();
  MakeReady(main_, kResumeError,
            S_.heap.MakeError(S_.heap.MakeString("interrupted"), Value::Nil()));
  return true;
}

bool Machine::TakeMainResult(RunResult* r) {
  if (!main_finished_) return false;
  *r = main_result_;
  main_finished_ = false;
  main_result_ = RunResult{RunStatus::kDone, Value::Nil()};
  return true;
}

}  // namespace sx::interp
