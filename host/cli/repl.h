// repl.h — the read-eval-print loop of `sx` with no script.
//
// Interactive mode (a terminal, or `sx --repl`): prompts, line editing and
// history (line_editor.h), continuation prompts while a form is unbalanced
// (the push parser says when), results printed as `inspect` and folded when
// long, `*1 *2 *3` bound to the last three results and `*e` to the last
// error, errors reported with their place and backtrace without ending the
// session, Ctrl-C interrupting a running evaluation, and `:` commands (see
// kHelp in repl_commands.cc). The persist library is imported at start.
//
// Pipe mode (standard input not a terminal): each form is read, evaluated and
// its value printed in full, with no prompts and no colours, so
// `echo '(+ 1 2)' | sx` prints 3; errors go to stderr and make the exit
// status 1.
//
// The REPL reaches the interpreter only through include/sx/sx.h, like any
// other embedder. One Repl per process: it owns the SIGINT handler while it
// runs.
#pragma once

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "host/cli/line_editor.h"
#include "host/cli/setup.h"

namespace sx::host {

// Returns the process exit status.
int RunRepl(Host& host, bool interactive);

class Repl {
 public:
  Repl(Host& host, bool interactive);
  ~Repl();
  Repl(const Repl&) = delete;
  Repl& operator=(const Repl&) = delete;

  int Run();  // until end of input or :quit; the exit status

 private:
  // --- the loop (repl.cc) ---
  void Banner();
  void HandleLine(const std::string& line);
  void Feed(std::string_view text);  // to the parser; evaluates what completes
  void FinishInput();
  void Evaluate(const Value& form);
  // Runs an evaluation with Ctrl-C armed to interrupt it, then reports it.
  void RunAndReport(const std::function<Outcome()>& eval);
  void ShowResult(const Value& v);
  void ShowError(const std::string& text);
  void Remember(const Value& v);
  std::string Prompt() const;
  bool Pending() const { return parser_ != nullptr && parser_->NeedsMore(); }

  // --- output ---
  void Out(std::string_view text);
  void Err(std::string_view text);
  std::string Paint(const char* code, std::string_view text, bool on) const;
  std::string Fold(const std::string& text) const;

  // --- commands and completion (repl_commands.cc) ---
  struct Command {
    const char* name;
    void (Repl::*run)(const std::string& arg);
  };
  static std::span<const Command> Commands();
  void RunCommand(const std::string& line);
  void CmdHelp(const std::string& arg);
  void CmdQuit(const std::string& arg);
  void CmdLoad(const std::string& arg);
  void CmdDoc(const std::string& arg);
  void CmdEnv(const std::string& arg);
  void CmdStore(const std::string& arg);
  void CmdTime(const std::string& arg);
  void CmdShow(const std::string& arg);
  void CmdWidth(const std::string& arg);
  void PrintColumns(const std::vector<std::string>& words);
  std::vector<std::string> Complete(const std::string& before);

  Host& host_;
  Interpreter& in_;
  bool interactive_;
  bool color_out_ = false;
  bool color_err_ = false;
  std::unique_ptr<LineEditor> editor_;
  std::unique_ptr<Parser> parser_;       // the entry being read; fresh per entry
  std::set<std::string> startup_names_;  // bound before the first prompt
  Value last_[3];                        // *1 *2 *3
  size_t fold_limit_ = 1000;             // characters of a result shown; 0: all
  bool timing_ = false;                  // :time — time the forms of this entry
  bool quit_ = false;
  bool at_line_start_ = true;  // where the terminal's cursor is
  int status_ = 0;
};

}  // namespace sx::host
