// backtrace.cc — errors in the machine: the backtrace recorded on an error
// when it is first raised, unwinding the frames to the nearest `guard`, and
// the text of an uncaught error.
#include <string>
#include <string_view>
#include <vector>

#include "interp/machine.h"
#include "interp/machine_internal.h"
#include "interp/printer.h"

namespace sx::interp {

namespace {

// The most lines a backtrace keeps (besides the gap and the user's line).
constexpr size_t kMaxTrace = 12;
// The backtrace line that stands for frames left out.
constexpr std::string_view kTraceGap = "...";

// "FILE:LINE:COL" of a node; just the file, or "<unknown>", for a form
// that was built rather than read.
std::string NodeWhere(Node* n) {
  std::string s;
  if (n == nullptr) return s;
  if (IsString(n->file)) s = std::string(StringView(n->file));
  if (n->line == 0) return s.empty() ? "<unknown>" : s;  // a form built, not read
  s += ':';
  s += std::to_string(n->line);
  s += ':';
  s += std::to_string(n->col);
  return s;
}

// The sub-expression a frame is waiting on: where its activation stands.
Node* FrameAt(const Frame& f) {
  Node* n = f.node;
  if (n == nullptr) return nullptr;
  switch (f.kind) {
    case FrameKind::kCallArg:
    case FrameKind::kArith2:
    case FrameKind::kDictLit:
      return f.i < n->nkids ? n->kids[f.i] : n;
    case FrameKind::kSeq:
    case FrameKind::kAnd:
    case FrameKind::kOr:
      return f.i >= 1 && f.i <= n->nkids ? n->kids[f.i - 1] : n;
    case FrameKind::kIf:
    case FrameKind::kSetLocal:
    case FrameKind::kSetGlobal:
    case FrameKind::kDefGlobal:
    case FrameKind::kPerform:
    case FrameKind::kCase:
    case FrameKind::kLoadPath:
    case FrameKind::kGuard:
      return n->a != nullptr ? n->a : n;
    default:
      return n;
  }
}

bool InLibrary(const Node* n) { return (n->flags & kLibNode) != 0; }

// One line of a backtrace: the place, and the function unless the code is
// a top-level form.
std::string TraceLine(const Node* n) {
  std::string s = NodeWhere(const_cast<Node*>(n));
  const Proto* p = n->fn;
  if (p != nullptr && !(p->flags & kProtoToplevel)) {
    s += " in ";
    s += IsSymbol(p->name) ? std::string(AsSymbol(p->name)->name->View()) : "fn";
  }
  return s;
}

}  // namespace

std::string Machine::FormatError(Value err) {
  std::string out;
  Value trace = Value::EmptyList();
  if (IsError(err)) {
    auto* e = static_cast<ErrorObj*>(err.AsObj());
    trace = e->trace;
    // The headline names the innermost place outside the library: the
    // user's line that led into it.
    std::string where;
    for (Value p = trace; IsPair(p); p = Cdr(p)) {
      if (!IsString(Car(p)) || StringView(Car(p)) == kTraceGap) continue;
      std::string_view at = StringView(Car(p));
      if (where.empty() || at.substr(0, kLibraryPrefix.size()) != kLibraryPrefix) {
        where = std::string(at.substr(0, at.find(' ')));
        if (at.substr(0, kLibraryPrefix.size()) != kLibraryPrefix) break;
      }
    }
    if (!where.empty()) out += where + ": ";
    out += "error: ";
    out += IsString(e->message) ? std::string(StringView(e->message)) : Inspect(S_, e->message);
    if (!e->data.IsNil()) out += "\n  data: " + Brief(S_, e->data);
  } else {
    out += "error: uncaught raise of " + Brief(S_, err);
  }
  for (Value p = trace; IsPair(p); p = Cdr(p)) {
    if (!IsString(Car(p))) continue;
    std::string_view at = StringView(Car(p));
    out += at == kTraceGap ? "\n  ..." : "\n  at " + std::string(at);
  }
  return out;
}

// Walks the continuation from the innermost place out: one line per
// activation (frames of one activation share its Env; frames of machine
// operations, which have none, join the activation of the same function
// next to them). Tail calls leave no frame, so the last call from outside
// the library into it (lib_entry_) is put back where the library's frames
// end, when the frame count says it belongs there.
Value Machine::Backtrace(MachineLoop& L, Env* env) {
  auto& frames = L.frames;
  std::vector<Value> trace;
  Node* last_at = nullptr;
  const Proto* last_fn = nullptr;
  Env* last_env = nullptr;
  bool in_lib = false;
  bool user_seen = false;  // a line in the user's code is in the trace
  bool entry_used = lib_entry_ == nullptr || lib_entry_task_ != task_;
  auto add = [&](Node* at, Env* e) {
    if (at == nullptr) return;
    bool same = last_at != nullptr && at->fn == last_fn &&
                (e == last_env || e == nullptr || last_env == nullptr);
    if (!same && trace.size() >= kMaxTrace && !user_seen && !InLibrary(at)) {
      // However deep the library's frames, the headline needs the first
      // place in the user's code: the frames between are left out.
      trace.push_back(S_.heap.MakeString(kTraceGap));
      trace.push_back(S_.heap.MakeString(TraceLine(at)));
      user_seen = true;
    } else if (!same && trace.size() < kMaxTrace) {
      trace.push_back(S_.heap.MakeString(TraceLine(at)));
      user_seen = user_seen || !InLibrary(at);
    }
    if (!same || last_env == nullptr) last_env = e;
    last_at = at;
    last_fn = at->fn;
    in_lib = InLibrary(at);
  };
  // Where the library's frames give way to the caller's, at frame count `depth`.
  auto entry = [&](size_t depth) {
    if (entry_used || !in_lib) return;
    entry_used = true;
    if (lib_entry_depth_ == depth) add(lib_entry_, nullptr);
  };
  add(cur_call_, env);
  for (size_t k = frames.size(); k-- > 0;) {
    const Frame& f = frames[k];
    if (f.kind == FrameKind::kBarrier || (trace.size() >= kMaxTrace && user_seen)) break;
    Node* at = FrameAt(f);
    if (at == nullptr) continue;
    if (!InLibrary(at)) entry(k + 1);
    add(at, f.env);
  }
  entry(0);
  return S_.heap.ListFrom(trace.data(), trace.size());
}

// Pops frames up to the nearest guard. Returns false when there is none (the
// error ends the run). Records where the error happened on first raise.
bool Machine::Unwind(MachineLoop& L, Value err, Node** node, Env** env) {
  auto& frames = L.frames;
  auto& vals = L.vals;
  if (IsError(err) && !IsPair(static_cast<ErrorObj*>(err.AsObj())->trace)) {
    // The trace is a nicety: when memory has run out it is left unrecorded,
    // and the error still reaches its guard.
    try {
      Value trace = Backtrace(L, *env);
      static_cast<ErrorObj*>(err.AsObj())->trace = trace;
    } catch (std::bad_alloc&) {
    }
  }
  bool found = false;
  while (!frames.empty()) {
    Frame f = frames.back();
    if (f.kind == FrameKind::kBarrier) break;
    frames.pop_back();
    if (f.kind == FrameKind::kGuard) {
      vals.resize(f.base);
      try {
        SetSlot(S_.heap, f.env, f.node->index, err);
      } catch (std::bad_alloc&) {
        continue;  // no room to bind the error here: on to an outer guard
      }
      *env = f.env;
      *node = f.node->b;
      found = true;
      break;
    }
  }
  if (!found) {
    // Leave the stack as it was below any barrier.
    while (!frames.empty() && frames.back().kind != FrameKind::kBarrier) frames.pop_back();
  }
  return found;
}

}  // namespace sx::interp
