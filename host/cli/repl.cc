// repl.cc — the loop: lines in, forms through the push parser, values out.
#include "host/cli/repl.h"

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "host/backend/open.h"
#include "host/ops/format.h"

namespace sx::host {

namespace {

constexpr const char* kRed = "\x1b[1;31m";
constexpr const char* kDim = "\x1b[2m";

// Ctrl-C. While an evaluation runs, the handler interrupts it (the machine
// raises "interrupted" at its next call); the third press in one evaluation
// gives up on it and ends the process, for a native that never returns.
// Otherwise it tells the line editor to abandon the line.
Interpreter* g_interp = nullptr;
volatile std::sig_atomic_t g_evaluating = 0;
volatile std::sig_atomic_t g_presses = 0;

void OnInterrupt(int) {
  NoteInterruptSignal();
  if (!g_evaluating || g_interp == nullptr) return;
  g_interp->Interrupt();
  g_presses = g_presses + 1;
  if (g_presses >= 3) {
    static const char kMsg[] = "\nsx: evaluation does not answer Ctrl-C; quitting\n";
    ssize_t ignored = write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
    (void)ignored;
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
  }
}

// The SIGINT handler. While a line is read, without SA_RESTART, so the
// blocked read() returns and the editor drops the line; while SX runs, with
// it, so a Ctrl-C during a persist op never fails the store's system calls
// (the machine notices the interrupt at its next call instead).
void ArmInterrupt(bool restart) {
  struct sigaction sa {};
  sa.sa_handler = OnInterrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = restart ? SA_RESTART : 0;
  sigaction(SIGINT, &sa, nullptr);
}

// SX_HISTORY=FILE moves the history; empty or "off" keeps none.
std::string HistoryPath() {
  if (const char* v = std::getenv("SX_HISTORY"); v != nullptr) {
    std::string path = v;
    return path == "off" ? "" : path;
  }
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') return "";
  return std::string(home) + "/.sx_history";
}

// Colours on a terminal only, and never under NO_COLOR (no-color.org: set
// and not empty) or TERM=dumb.
bool UseColor(int fd) {
  if (!isatty(fd)) return false;
  if (const char* v = std::getenv("NO_COLOR"); v != nullptr && *v != '\0') return false;
  const char* term = std::getenv("TERM");
  return term == nullptr || std::strcmp(term, "dumb") != 0;
}

size_t CountChars(std::string_view utf8) {
  size_t n = 0;
  for (char c : utf8) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

}  // namespace

Repl::Repl(Host& host, bool interactive)
    : host_(host), in_(host.interp()), interactive_(interactive) {
  LineEditor::Options eo;
  if (interactive_) {
    eo.use_terminal = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    eo.show_prompt = true;
    eo.history_path = HistoryPath();
    eo.complete = [this](const std::string& before) { return Complete(before); };
    color_out_ = UseColor(STDOUT_FILENO);
    color_err_ = UseColor(STDERR_FILENO);
  }
  editor_ = std::make_unique<LineEditor>(std::move(eo));
  in_.SetOutput([this](std::string_view s) { Out(s); });
  if (interactive_) {
    // The REPL is where people poke at their data: have the persist
    // library at hand. Without it (a build with no persist module) the
    // REPL still works.
    in_.Run(in_.Eval("(import persist)", "<repl>"));
    for (const char* name : {"*1", "*2", "*3", "*e"}) in_.Define(name, in_.Nil());
    for (std::string& name : in_.GlobalNames()) startup_names_.insert(std::move(name));
    g_interp = &in_;
    ArmInterrupt(false);
  }
}

Repl::~Repl() {
  if (interactive_) {
    std::signal(SIGINT, SIG_DFL);
    g_interp = nullptr;
  }
  in_.SetOutput([](std::string_view s) { std::fwrite(s.data(), 1, s.size(), stdout); });
  std::fflush(stdout);
}

int Repl::Run() {
  if (interactive_) Banner();
  std::string line;
  while (!quit_) {
    if (interactive_ && !at_line_start_) Out("\n");
    LineEditor::Result r = editor_->Read(Prompt(), &line);
    at_line_start_ = true;
    if (r == LineEditor::Result::kInterrupted) {
      parser_.reset();
      timing_ = false;
      continue;
    }
    if (r == LineEditor::Result::kEnd) {
      // Ctrl-D leaves the cursor after the prompt.
      if (interactive_ && editor_->editing()) Out("\n");
      FinishInput();
      break;
    }
    HandleLine(line);
  }
  std::fflush(stdout);
  return interactive_ ? 0 : status_;
}

void Repl::Banner() {
  // A directory as an absolute path; a PostgreSQL URL without its password.
  std::string where = host_.options().data_dir;
  if (backend::IsPostgresUrl(where)) {
    where = backend::LocationForMessages(where);
  } else {
    std::error_code ec;
    where = std::filesystem::absolute(where, ec).lexically_normal().string();
  }
  Out(std::string("sx ") + Version() + " — data in " + where + " (sync " + host_.options().sync +
      ")\n");
  Out(Paint(kDim, ":help for help, Ctrl-D to quit", color_out_) + "\n");
}

std::string Repl::Prompt() const {
  if (!interactive_) return "";
  return Pending() ? "...> " : "sx> ";
}

void Repl::HandleLine(const std::string& line) {
  if (interactive_) editor_->AddHistory(line);
  size_t first = line.find_first_not_of(" \t");
  if (interactive_ && !Pending() && first != std::string::npos && line[first] == ':') {
    RunCommand(line.substr(first));
    return;
  }
  // `quit` or `exit` alone: someone looking for the way out. The word is
  // evaluated as usual only when it names a value the user bound; unbound,
  // or a function such as the library's (exit code), it gets the hint.
  if (interactive_ && !Pending() && first != std::string::npos) {
    std::string word = line.substr(first, line.find_last_not_of(" \t") + 1 - first);
    if ((word == "quit" || word == "exit") &&
        (!in_.IsBound(word) || in_.Global(word).IsFunction())) {
      Out(Paint(kDim, "to leave, type :quit or press Ctrl-D", color_out_) + "\n");
      return;
    }
  }
  Feed(line + "\n");
}

void Repl::Feed(std::string_view text) {
  // Interactive entries each get a fresh parser, so the lines of an error's
  // place count from the first line of the entry. A pipe is one input, read
  // by one parser, like a script.
  if (parser_ == nullptr)
    parser_ = std::make_unique<Parser>(in_, interactive_ ? "<repl>" : "<stdin>");
  parser_->Feed(text);
  for (;;) {
    Value form;
    std::string error;
    Parser::Result r = parser_->Next(&form, &error);
    if (r == Parser::Result::kForm) {
      Evaluate(form);
      if (interactive_ && g_presses > 0) break;  // Ctrl-C drops the rest of the entry
      continue;
    }
    if (r == Parser::Result::kError) {
      ShowError(error);
      parser_.reset();
      timing_ = false;
      return;
    }
    break;
  }
  if (interactive_ && (g_presses > 0 || !parser_->NeedsMore())) {
    parser_.reset();
    timing_ = false;
  }
}

void Repl::FinishInput() {
  // An interactive user who types Ctrl-D mid-form is leaving; a pipe that
  // ends mid-form is a truncated input and says so.
  if (parser_ == nullptr || interactive_) return;
  parser_->Finish();
  for (;;) {
    Value form;
    std::string error;
    Parser::Result r = parser_->Next(&form, &error);
    if (r == Parser::Result::kForm) {
      Evaluate(form);
    } else {
      if (r == Parser::Result::kError) ShowError(error);
      break;
    }
  }
  parser_.reset();
}

void Repl::Evaluate(const Value& form) {
  RunAndReport([&] { return in_.Run(in_.EvalForm(form, interactive_ ? "<repl>" : "<stdin>")); });
}

void Repl::RunAndReport(const std::function<Outcome()>& eval) {
  std::fflush(stdout);
  auto start = std::chrono::steady_clock::now();
  g_presses = 0;
  if (interactive_) ArmInterrupt(true);
  g_evaluating = 1;
  if (interactive_ && InterruptSignalPending()) {
    g_presses = 1;
    in_.Interrupt();
  }
  Outcome o = eval();
  g_evaluating = 0;
  ClearInterruptSignal();  // a Ctrl-C during the evaluation was for it
  if (interactive_) ArmInterrupt(false);
  if (g_presses > 0 && editor_->editing()) at_line_start_ = false;  // after the echoed ^C
  std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
  if (o.status == Status::kDone) {
    Remember(o.value);
    ShowResult(o.value);
  } else {
    if (interactive_) in_.Define("*e", o.value.IsNil() ? in_.MakeError(o.error_text) : o.value);
    ShowError(o.error_text);
  }
  if (timing_) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "time: %.3f ms", took.count());
    Out(Paint(kDim, buf, color_out_) + "\n");
  }
}

void Repl::Remember(const Value& v) {
  if (!interactive_) return;
  last_[2] = last_[1];
  last_[1] = last_[0];
  last_[0] = v;
  in_.Define("*1", last_[0]);
  in_.Define("*2", last_[1]);
  in_.Define("*3", last_[2]);
}

void Repl::ShowResult(const Value& v) {
  // As in Python, an interactive nil (define, println, ...) prints nothing.
  if (interactive_ && v.IsNil()) return;
  std::string text = v.Inspect();
  // A list of events (dicts) reads best one per line, broken to the screen.
  if (interactive_ && v.IsList()) {
    std::vector<Value> items = v.Items();
    if (!items.empty() && items[0].IsDict()) {
      text = PrettyText(in_, v, static_cast<size_t>(editor_->width()));
    }
  }
  if (interactive_) text = Fold(text);
  if (!at_line_start_) Out("\n");
  Out(text + "\n");
}

void Repl::ShowError(const std::string& text) {
  status_ = 1;
  std::string body = text;
  if (body.empty() || body.back() != '\n') body += '\n';
  if (!at_line_start_) Out("\n");
  std::fflush(stdout);
  if (color_err_) {
    size_t nl = body.find('\n');
    body = Paint(kRed, body.substr(0, nl), true) + body.substr(nl);
  }
  Err(body);
}

void Repl::Out(std::string_view text) {
  if (text.empty()) return;
  std::fwrite(text.data(), 1, text.size(), stdout);
  at_line_start_ = text.back() == '\n';
}

void Repl::Err(std::string_view text) {
  if (text.empty()) return;
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
  at_line_start_ = text.back() == '\n';
}

std::string Repl::Paint(const char* code, std::string_view text, bool on) const {
  if (!on) return std::string(text);
  return std::string(code) + std::string(text) + "\x1b[0m";
}

std::string Repl::Fold(const std::string& text) const {
  if (fold_limit_ == 0 || text.size() <= fold_limit_) return text;
  size_t cut = fold_limit_;
  // Cut between items when one ends near the limit, never inside a character.
  if (size_t space = text.rfind(' ', cut); space != std::string::npos && cut - space < 40) {
    cut = space;
  }
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  std::string note = " ... (" + std::to_string(CountChars(std::string_view(text).substr(cut))) +
                     " more characters; :show prints all)";
  return text.substr(0, cut) + Paint(kDim, note, color_out_);
}

int RunRepl(Host& host, bool interactive) {
  Repl repl(host, interactive);
  return repl.Run();
}

}  // namespace sx::host
