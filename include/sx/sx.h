// sx.h — the embedding API of the SX interpreter. The one public header.
//
// An Interpreter runs SX code. Evaluation stops in one of three ways, told by
// an Outcome: done (with a value), suspended (the code called `perform` and
// hands the host a request), or error (an uncaught SX error). A suspended
// computation continues with Resume (a value becomes the value of `perform`)
// or ResumeError (an error is raised at the `perform`, where `guard` can catch
// it); it is resumed at most once.
//
// Hosts that serve requests register IO handlers and call Run, the
// scheduler: it runs the computation and every task SX code spawned
// (`spawn`, `await`, `sleep`, `yield`), collects the requests of the tasks
// suspended in one round, hands them to the batch handlers together and then
// to the per-request handlers in order until one serves each, and resumes
// every task with its own answer. A request no handler serves raises
// `no handler for op "..."` into its task: it is never answered with nil.
// Every suspension carries a token; an answer with a stale token (already
// answered, or for a task that was cancelled) is rejected, never acted on.
//
// A handler may also answer later (IoResult::Later): the task stays
// suspended while the others run, and the host answers it afterwards with
// Answer(token, result). A host that does so sets an IO poller: while
// answers are outstanding Run calls it instead of sleeping, with a timeout
// of 0 when tasks are ready and otherwise the time to the next sleeper's
// wake (or -1, no limit); the poller waits for its sockets at most that
// long and calls Answer for the work that completed. Run neither returns nor
// reports a deadlock while answers are outstanding.
//
// A native that calls back into SX (CallBack) must be declared with
// NativeOptions{.calls_back = true}: it then runs on a fiber of its own, and
// a `perform` in the callback suspends the whole computation with the
// native's C++ frame intact, to continue when the host resumes.
//
// sx::Value is a handle that keeps its value alive across collections. Handles
// belong to one Interpreter and must not outlive it. One Interpreter is used by
// one thread at a time.
//
//   sx::Interpreter in;
//   in.DefineNative("twice", 1, 1, "(twice n) — 2n.",
//                   [](sx::Interpreter& in, std::span<const sx::Value> a) {
//                     return in.Int(2 * a[0].AsInt());
//                   });
//   sx::Outcome o = in.Run(in.Eval("(twice 21)"));
//   // o.status == sx::Status::kDone, o.value.AsInt() == 42
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sx {

namespace interp {
class State;
class Value;
struct Args;
}  // namespace interp

class Interpreter;

// A rooted handle to an SX value. A default-constructed Value is nil and
// belongs to no interpreter.
class Value {
 public:
  Value() = default;
  Value(const Value& other);
  Value(Value&& other) noexcept;
  Value& operator=(const Value& other);
  Value& operator=(Value&& other) noexcept;
  ~Value();

  bool IsNil() const;
  bool IsBool() const;
  bool IsInt() const;
  bool IsFloat() const;
  bool IsNumber() const { return IsInt() || IsFloat(); }
  bool IsString() const;
  bool IsSymbol() const;
  bool IsKeyword() const;
  bool IsList() const;
  bool IsDict() const;
  bool IsFunction() const;
  bool IsError() const;
  bool Truthy() const;

  // Accessors; each checks the kind and throws std::logic_error on misuse.
  bool AsBool() const;
  int64_t AsInt() const;
  double AsDouble() const;                // integer or float
  std::string AsString() const;           // string bytes, or a symbol's/keyword's name
  std::vector<Value> Items() const;       // a list's elements
  Value Get(std::string_view key) const;  // a dict's entry; nil when absent
  std::vector<std::pair<std::string, Value>> Entries() const;  // sorted by key
  std::string ErrorMessage() const;                            // an error value's message
  Value ErrorData() const;
  // AsString's bytes without a copy: valid while this handle lives (values
  // never change, and the heap never moves them).
  std::string_view View() const;

  std::string TypeName() const;  // as `type-of`
  std::string Inspect() const;   // readable text, as `inspect`
  // Inspect's text cut to a readable length for an error message; a long
  // string, symbol or keyword says its size: "\"abc...\"... (1048576 bytes)".
  std::string Brief() const;
  std::string Display() const;  // as `display`: strings raw

  Interpreter* owner() const { return owner_; }

 private:
  friend class Interpreter;
  friend class ValueBuilder;
  Value(Interpreter* owner, uint64_t bits);
  uint64_t bits() const;

  Interpreter* owner_ = nullptr;
  size_t slot_ = 0;
};

enum class Status { kDone, kSuspended, kError };

struct Outcome {
  Status status = Status::kDone;
  Value value;             // the result, the request, or the raised value
  std::string error_text;  // kError: message, file:line:col and backtrace
  uint64_t token = 0;      // kSuspended: answers this suspension, once
};

// Thrown by a native function to raise an SX error. CallBack throws it when
// the callee raises; `raised()` is then the value raised, which a native
// that lets the Error through re-raises unchanged.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, Value data = Value(), Value raised = Value())
      : std::runtime_error(message), data_(std::move(data)), raised_(std::move(raised)) {}
  const Value& data() const { return data_; }
  const Value& raised() const { return raised_; }

 private:
  Value data_;
  Value raised_;
};

// What an IO handler did with a request.
struct IoResult {
  // kLater: the handler took the request and will answer it through
  // Interpreter::Answer; its task waits meanwhile (see SetIoPoller).
  enum Kind { kServed, kFailed, kPass, kLater } kind = kPass;
  Value value;          // kServed: the answer
  std::string message;  // kFailed: the error message
  Value data;           // kFailed: error data (nil when absent)

  static IoResult Served(Value v) { return IoResult{kServed, std::move(v), {}, {}}; }
  static IoResult Failed(std::string msg, Value data = Value()) {
    return IoResult{kFailed, Value(), std::move(msg), std::move(data)};
  }
  static IoResult Pass() { return IoResult{}; }
  static IoResult Later() { return IoResult{kLater, Value(), {}, {}}; }
};

// op: the request's :op string; args: its :args (a list, or nil).
using IoHandler = std::function<IoResult(Interpreter& in, std::string_view op, const Value& args,
                                         const Value& request)>;

// One suspended task's request in a batch. A batch handler sets `result`
// for the requests it serves and leaves kPass on the others. Requests are
// in the order their tasks suspended, rotated to start at a different task
// from round to round (so that when they conflict no task always wins);
// each task has at most one.
struct IoRequest {
  uint64_t token = 0;
  std::string op;
  Value args;
  Value request;
  IoResult result;
};
using BatchIoHandler = std::function<void(Interpreter& in, std::span<IoRequest> batch)>;
// Called by Run while answers are outstanding; timeout_ns: how long it may
// wait (0: not at all, -1: until something happens).
using IoPoller = std::function<void(Interpreter& in, int64_t timeout_ns)>;

using NativeFunction = std::function<Value(Interpreter& in, std::span<const Value> args)>;
struct NativeOptions {
  // The native calls Interpreter::CallBack: run it on a fiber, so that a
  // callback may suspend.
  bool calls_back = false;
};
// Returns the source of a library module ("persist", "persist/log") or false.
using ModuleLoader = std::function<bool(std::string_view name, std::string* source)>;

struct Limits {
  size_t max_frames = 1000000;     // bounds non-tail recursion
  size_t max_read_depth = 10000;   // bounds nesting of source text
  size_t max_macro_depth = 10000;  // bounds macros expanding into macro calls
};

// A push parser over SX source: feed text in any pieces, take complete
// forms out. A REPL asks NeedsMore() to choose its continuation prompt.
class Parser {
 public:
  Parser(Interpreter& in, std::string filename);
  ~Parser();
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  void Feed(std::string_view text);
  void Finish();  // end of input: an unfinished form becomes an error
  enum class Result { kForm, kNeedMore, kEnd, kError };
  // kForm: *form is the next complete form. kError: *error says what and
  // where ("file:line:col: message"); the parser is then spent.
  Result Next(Value* form, std::string* error);
  bool NeedsMore() const;  // a form has started and is not complete

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Builds values bottom-up on a stack of parts, without a rooted handle per
// part: for a decoder that makes many small values at once (the host's
// stored-value codec). List and Dict replace the top parts with the
// container made of them; Take hands out the top part as a handle. Dict
// keys that repeat within one builder share one string. Neither the parts
// nor those keys are roots: no SX code may run (no Eval, Call, Resume or
// Run) while a builder exists, so make one inside an IO handler or a native
// that calls nothing back, and let it go before returning.
class ValueBuilder {
 public:
  explicit ValueBuilder(Interpreter& in);
  ~ValueBuilder();
  ValueBuilder(const ValueBuilder&) = delete;
  ValueBuilder& operator=(const ValueBuilder&) = delete;

  void Nil();
  void Bool(bool b);
  void Int(int64_t n);
  void Float(double d);
  void String(std::string_view s);
  void Symbol(std::string_view name);
  void Keyword(std::string_view name);
  void Push(const Value& v);
  void Key(std::string_view key);  // a dict key: Dict takes key, value, key, value...
  void List(size_t n);             // the top n parts become a list, in push order
  void Dict(size_t n);             // the top 2n parts (Key, value pairs) become a dict
  size_t size() const;             // parts on the stack
  Value Take();                    // the top part as a handle, popped
  void Clear();                    // drops every part

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Interpreter {
 public:
  Interpreter();
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  // --- evaluation ----------------------------------------------------------
  // Reads and evaluates every form of `source`; stops at the first suspension.
  Outcome Eval(std::string_view source, std::string_view filename = "<eval>");
  Outcome EvalFile(const std::string& path);  // kError when unreadable
  // Evaluates one form (from a Parser) at top level.
  Outcome EvalForm(const Value& form, std::string_view filename = "<eval>");
  // Calls a function value with arguments.
  Outcome Call(const Value& fn, std::span<const Value> args);
  Outcome Resume(const Value& answer);
  Outcome ResumeError(std::string_view message, const Value& data = Value());
  // As above, for the suspension `token` names; a stale or duplicate token
  // is rejected (kError, "resume: stale token ...") and nothing runs.
  Outcome Resume(uint64_t token, const Value& answer);
  Outcome ResumeError(uint64_t token, std::string_view message, const Value& data = Value());
  // The scheduler: runs the computation `outcome` left (if suspended) and
  // every spawned task, serving IO in batches, until the computation is
  // done or failed, no other task can make progress and no answer is
  // outstanding. Tasks still blocked then stay where they are (`(tasks)`
  // lists them).
  Outcome Run(Outcome outcome);
  bool suspended() const;
  // Answers a request a handler took with IoResult::Later: kServed resumes
  // its task with the value, kFailed raises the error there (anything else
  // raises "no answer"). Call it only once the handler has returned
  // kLater (from the poller, or between rounds); the task runs in Run's
  // next round. False, and
  // counted as stale, when the token was not awaiting a later answer or its
  // task was cancelled meanwhile.
  bool Answer(uint64_t token, IoResult result);
  // Requests taken with IoResult::Later and not answered yet.
  size_t outstanding_answers() const { return later_.size(); }
  // Answers rejected because their token was stale (tests, diagnostics).
  uint64_t stale_resumes() const;

  // From inside a native: calls fn and returns its value, or throws Error
  // when it raises. Inside a native declared calls_back the callee may
  // perform; elsewhere a callee that suspends is an error.
  Value CallBack(const Value& fn, std::span<const Value> args);

  // --- extension -----------------------------------------------------------
  void AddIoHandler(IoHandler handler);
  // Batch handlers see each round's requests before the per-request ones.
  void AddBatchIoHandler(BatchIoHandler handler);
  // The one poller (a later call replaces it). A handler that answers
  // later needs one: without it Run fails such requests at once.
  void SetIoPoller(IoPoller poller);
  void DefineNative(std::string name, int min_args, int max_args, std::string doc,
                    NativeFunction fn, NativeOptions options = {});
  void Define(std::string_view name, const Value& v);
  Value Global(std::string_view name);  // nil when unbound
  bool IsBound(std::string_view name);
  std::vector<std::string> GlobalNames();
  std::string Doc(std::string_view name);  // docstring of a native or function, "" if none
  void SetOutput(std::function<void(std::string_view)> out);
  void SetModuleLoader(ModuleLoader loader);
  void AddSearchPath(std::string dir);
  void SetLimits(const Limits& limits);
  Limits GetLimits() const;
  // Safe to call from a signal handler: the running evaluation raises
  // "interrupted" at its next call; a main computation sleeping or awaiting
  // in Run raises it at once, and a Run whose main computation has ended
  // stops waiting on other tasks.
  void Interrupt();

  // --- values --------------------------------------------------------------
  Value Nil();
  Value Bool(bool b);
  Value Int(int64_t n);
  Value Float(double d);
  Value String(std::string_view s);
  Value Symbol(std::string_view name);
  Value Keyword(std::string_view name);
  Value List(std::span<const Value> items);
  Value Dict(std::span<const std::pair<std::string, Value>> entries);
  Value Assoc(const Value& dict, std::string_view key, const Value& v);
  Value MakeError(std::string_view message, const Value& data = Value());
  // The persistence text form. Returns false (and why) for a value with no
  // text form, such as a function.
  bool Serialize(const Value& v, std::string* text, std::string* error);
  // Parses one value; false (and why) on bad text.
  bool Deserialize(std::string_view text, Value* out, std::string* error);

  struct HeapStats {
    size_t collections;
    size_t live_bytes;
    size_t allocated_bytes;
  };
  HeapStats heap_stats() const;

  // For the host's own internals (tests, tools); not part of the stable API.
  interp::State& state() { return *state_; }

 private:
  friend class Value;
  friend class Parser;
  friend class ValueBuilder;
  Value Wrap(uint64_t bits);
  static interp::Value NativeEntry(const interp::Args& a);
  Outcome MakeOutcome(int status, uint64_t bits);
  Outcome OutOfMemoryOutcome();
  Outcome StaleToken(uint64_t token);
  void ServeBatch(std::vector<IoRequest>& batch);
  // Resumes the task of token with a served or failed result (its error).
  bool Deliver(uint64_t token, const IoResult& result);
  void Poll(int64_t timeout_ns);

  std::unique_ptr<interp::State> state_;
  std::vector<IoHandler> handlers_;
  std::vector<BatchIoHandler> batch_handlers_;
  IoPoller poller_;
  std::vector<uint64_t> later_;  // tokens taken with IoResult::Later, unanswered
  std::vector<std::unique_ptr<struct NativeBox>> natives_;
};

const char* Version();

}  // namespace sx
