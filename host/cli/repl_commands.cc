// repl_commands.cc — the REPL's `:` commands and Tab completion.
#include <algorithm>
#include <cinttypes>
#include <cstdlib>
#include <filesystem>

#include "host/backend/open.h"
#include "host/cli/repl.h"
#include "host/ops/format.h"
#include "host/ops/persist_ops.h"

namespace sx::host {

namespace {

constexpr const char* kBold = "\x1b[1m";

constexpr const char* kHelp =
    R"help(Type an SX form and press Enter: it is evaluated and its value printed
(nil is not printed). A form left open goes on with a "...>" prompt; errors
show their place as <repl>:LINE:COL, counting from the entry's first line.

Commands (a unique prefix will do, e.g. :q):
  :help            this text
  :quit            leave (Ctrl-D on an empty line too)
  :load FILE       evaluate the forms of FILE
  :doc NAME        the docstring of a native or library function
  :env [all|PRE]   the names you defined; all: every bound name; PRE: those
                   starting with PRE
  :store           the data directory: sync mode, streams, sizes
  :time EXPR       evaluate EXPR and print the wall time it took
  :show            print the last result (*1) in full, broken over lines
  :width [N]       fold printed results longer than N characters (0: never)

*1 *2 *3 hold the last three results, *e the last error. A result longer
than the width is cut with "... (N more characters; :show prints all)".
The persist library is imported, so persist/... names are bound.

Keys: Emacs editing keys and arrows; Up/Down walk the history, Ctrl-R
searches it; Tab completes names (and file names after :load); Ctrl-C
abandons the line or interrupts the running evaluation (pressed three times
in one evaluation, it quits); Ctrl-D on an empty line quits.
History is kept in ~/.sx_history; SX_HISTORY=FILE moves it, SX_HISTORY= or
SX_HISTORY=off keeps none. Colours only on a terminal, never with NO_COLOR.
)help";

// Special forms are not bound names, but are worth completing.
constexpr const char* kSpecialForms[] = {
    "and",   "begin",   "case",       "cond",   "define", "defmacro", "do",      "fn",
    "guard", "if",      "import",     "lambda", "let",    "let*",     "letrec",  "load",
    "or",    "perform", "quasiquote", "quote",  "set!",   "unless",   "unquote", "unquote-splicing",
    "when",
};

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

std::string HumanBytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) {
    std::snprintf(buf, sizeof buf, "%" PRIu64 " B", n);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  }
  return buf;
}

// File names completing `stem` (a path typed after :load).
std::vector<std::string> CompleteFile(const std::string& stem) {
  namespace fs = std::filesystem;
  size_t slash = stem.rfind('/');
  std::string dir = slash == std::string::npos ? "" : stem.substr(0, slash + 1);
  std::string base = slash == std::string::npos ? stem : stem.substr(slash + 1);
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir.empty() ? "." : dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.rfind(base, 0) != 0 || (base.empty() && name[0] == '.')) continue;
    out.push_back(dir + name + (it->is_directory(ec) ? "/" : ""));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::span<const Repl::Command> Repl::Commands() {
  static const Command kCommands[] = {
      {"help", &Repl::CmdHelp}, {"quit", &Repl::CmdQuit}, {"load", &Repl::CmdLoad},
      {"doc", &Repl::CmdDoc},   {"env", &Repl::CmdEnv},   {"store", &Repl::CmdStore},
      {"time", &Repl::CmdTime}, {"show", &Repl::CmdShow}, {"width", &Repl::CmdWidth},
  };
  return kCommands;
}

void Repl::RunCommand(const std::string& line) {
  size_t space = line.find_first_of(" \t");
  std::string name = line.substr(1, space == std::string::npos ? std::string::npos : space - 1);
  std::string arg = space == std::string::npos ? "" : Trim(line.substr(space));
  const Command* found = nullptr;
  std::string candidates;
  for (const Command& c : Commands()) {
    if (name == c.name) {
      found = &c;
      candidates.clear();
      break;
    }
    if (!name.empty() && std::string_view(c.name).starts_with(name)) {
      if (found != nullptr)
        candidates += std::string(candidates.empty() ? ":" : " :") + found->name;
      found = &c;
    }
  }
  if (found == nullptr) {
    ShowError("unknown command :" + name + " (:help lists the commands)");
  } else if (!candidates.empty()) {
    ShowError(":" + name + " is ambiguous: " + candidates + " :" + found->name);
  } else {
    (this->*found->run)(arg);
  }
}

void Repl::CmdHelp(const std::string&) { Out(kHelp); }

void Repl::CmdQuit(const std::string&) { quit_ = true; }

void Repl::CmdLoad(const std::string& arg) {
  std::string path = arg;
  if (path.size() >= 2 && path.front() == '"' && path.back() == '"') {
    path = path.substr(1, path.size() - 2);
  }
  if (path.empty()) {
    ShowError(":load needs a file name");
    return;
  }
  RunAndReport([&] { return in_.Run(in_.EvalFile(path)); });
}

void Repl::CmdDoc(const std::string& name) {
  if (name.empty()) {
    ShowError(":doc needs a name, e.g. :doc map");
    return;
  }
  std::string doc = in_.Doc(name);
  if (!doc.empty()) {
    Out(doc + (doc.back() == '\n' ? "" : "\n"));
  } else if (in_.IsBound(name)) {
    Out(name + " (" + in_.Global(name).TypeName() + ") has no docstring\n");
  } else if (std::find_if(std::begin(kSpecialForms), std::end(kSpecialForms),
                          [&](const char* f) { return name == f; }) != std::end(kSpecialForms)) {
    Out(name + " is a special form; docs/language.md describes it\n");
  } else {
    Out(name + " is not bound\n");
  }
}

void Repl::CmdEnv(const std::string& arg) {
  std::vector<std::string> names;
  std::vector<std::string> all = in_.GlobalNames();
  for (std::string& n : all) {
    bool keep = arg == "all"  ? true
                : arg.empty() ? startup_names_.count(n) == 0
                              : n.rfind(arg, 0) == 0;
    if (keep) names.push_back(std::move(n));
  }
  if (names.empty()) {
    Out(arg.empty() ? "nothing defined yet (:env all lists the " + std::to_string(all.size()) +
                          " bound names)\n"
                    : "no bound name starts with " + arg + "\n");
    return;
  }
  PrintColumns(names);
}

void Repl::CmdStore(const std::string&) {
  PersistService* persist = host_.persist();
  std::error_code ec;
  bool url = backend::IsPostgresUrl(persist->data_dir());
  std::filesystem::path dir =
      url ? std::filesystem::path()
          : std::filesystem::absolute(persist->data_dir(), ec).lexically_normal();
  auto row = [&](const char* label, const std::string& value) {
    char head[16];
    std::snprintf(head, sizeof head, "%-10s", label);
    Out(Paint(kBold, head, color_out_) + value + "\n");
  };
  if (url) {
    row("store", backend::LocationForMessages(persist->data_dir()));
  } else {
    row("data dir", dir.string());
    row("sync", persist->sync_mode());
  }
  if (!url && !persist->is_open() && !std::filesystem::exists(dir, ec)) {
    row("store", "not created yet (the first persist op creates it)");
    return;
  }
  std::string error;
  backend::Backend* store = persist->OpenBackend(&error);
  if (store == nullptr) {
    ShowError("cannot open the store: " + error);
    return;
  }
  backend::Stats stats;
  std::vector<std::string> streams;
  if (!store->GetStats(&stats).ok() || !store->Streams(&streams).ok()) {
    ShowError("cannot read the store");
    return;
  }
  auto stat = [&](const char* name) {
    for (const auto& [n, v] : stats) {
      if (n == name) return v;
    }
    return uint64_t{0};
  };
  row("streams", std::to_string(streams.size()));
  constexpr size_t kMaxListed = 20;
  for (size_t i = 0; i < streams.size() && i < kMaxListed; ++i) {
    uint64_t last = 0;
    store->LastSeq(streams[i], &last).IgnoreError();
    Out("  " + in_.String(streams[i]).Inspect() + "  last seq " + std::to_string(last) + "\n");
  }
  if (streams.size() > kMaxListed) {
    Out("  ... and " + std::to_string(streams.size() - kMaxListed) + " more\n");
  }
  row("events", std::to_string(stat("events")) + " stored");
  row("kv", std::to_string(stat("kv-keys")) + " keys");
  row("blobs", std::to_string(stat("blobs")));
  row("size", HumanBytes(stat("bytes-on-disk")) + " on disk, " + HumanBytes(stat("bytes-used")) +
                  " of records in " + std::to_string(stat("segments")) + " segment" +
                  (stat("segments") == 1 ? "" : "s"));
}

void Repl::CmdTime(const std::string& arg) {
  if (arg.empty()) {
    ShowError(":time needs an expression, e.g. :time (range 1000)");
    return;
  }
  timing_ = true;  // until this entry's last form is done
  Feed(arg + "\n");
}

void Repl::CmdShow(const std::string&) {
  Out(PrettyText(in_, last_[0], static_cast<size_t>(editor_->width())) + "\n");
}

void Repl::CmdWidth(const std::string& arg) {
  if (!arg.empty()) {
    char* end = nullptr;
    long n = std::strtol(arg.c_str(), &end, 10);
    if (end == arg.c_str() || *end != '\0' || n < 0) {
      ShowError(":width needs a number of characters (0: never fold)");
      return;
    }
    fold_limit_ = static_cast<size_t>(n);
  }
  Out(fold_limit_ == 0
          ? std::string("results are never folded\n")
          : "results are folded after " + std::to_string(fold_limit_) + " characters\n");
}

void Repl::PrintColumns(const std::vector<std::string>& words) {
  size_t widest = 0;
  for (const std::string& w : words) widest = std::max(widest, w.size());
  size_t columns = std::max<size_t>(1, static_cast<size_t>(editor_->width()) / (widest + 2));
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    bool last_in_row = (i + 1) % columns == 0 || i + 1 == words.size();
    out += words[i];
    out += last_in_row ? std::string("\n") : std::string(widest + 2 - words[i].size(), ' ');
  }
  Out(out);
}

std::vector<std::string> Repl::Complete(const std::string& before) {
  std::string text = before.substr(std::min(before.size(), before.find_first_not_of(" \t")));
  std::vector<std::string> out;
  bool command_line = !Pending() && !text.empty() && text[0] == ':';
  if (command_line && text.find_first_of(" \t") == std::string::npos) {
    for (const Command& c : Commands()) {
      if ((std::string(":") + c.name).rfind(text, 0) == 0) out.push_back(std::string(":") + c.name);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  std::string stem = LineEditor::WordBeforeCursor(before);
  if (command_line && text.rfind(":l", 0) == 0) return CompleteFile(stem);
  if (stem.empty()) return out;
  for (std::string& name : in_.GlobalNames()) {
    if (name.rfind(stem, 0) == 0) out.push_back(std::move(name));
  }
  for (const char* form : kSpecialForms) {
    if (std::string_view(form).starts_with(stem)) out.emplace_back(form);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace sx::host
