// line_editor.h — where the REPL's lines come from.
//
// On a terminal (stdin and stdout both ttys) lines are read through libedit:
// emacs key bindings, arrows, Ctrl-R incremental history search, history kept
// in a file, and Tab completion from a caller-supplied list of words.
// Anywhere else (a pipe, a file, `sx --repl < input`) lines are read plainly,
// with the prompt printed only when asked for.
//
// Ctrl-C. The process's SIGINT handler (the REPL owns it) calls
// NoteInterruptSignal(); a Read blocked on input then returns kInterrupted and
// the caller discards the line. NoteInterruptSignal is async-signal-safe.
//
// One LineEditor per process, used from one thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sx::host {

// Called from a SIGINT handler: the pending or next blocked Read returns
// kInterrupted.
void NoteInterruptSignal();
// True when a Ctrl-C came after the last Read began: the REPL checks it as
// an evaluation starts, so a press just after Enter still interrupts.
bool InterruptSignalPending();
// Forgets a pending Ctrl-C (an evaluation took it).
void ClearInterruptSignal();

class LineEditor {
 public:
  struct Options {
    bool use_terminal = false;  // edit with libedit (stdin and stdout are ttys)
    bool show_prompt = false;   // plain mode: print the prompt before reading
    std::string history_path;   // "" keeps no history file
    size_t history_size = 1000;
    // Words offered for Tab completion, given the text before the cursor.
    std::function<std::vector<std::string>(const std::string& line_before_cursor)> complete;
  };

  explicit LineEditor(Options options);
  ~LineEditor();
  LineEditor(const LineEditor&) = delete;
  LineEditor& operator=(const LineEditor&) = delete;

  enum class Result { kLine, kEnd, kInterrupted };
  // Reads one line (without its newline). kEnd: end of input (Ctrl-D on an
  // empty line).
  Result Read(const std::string& prompt, std::string* line);

  // Adds a line to the history (and the history file, if any). Empty lines
  // and repeats of the previous entry are skipped.
  void AddHistory(const std::string& line);

  bool editing() const { return editor_ != nullptr; }
  // Columns of the terminal (80 when unknown).
  int width() const;

  // Splits the word being completed off the text before the cursor: the
  // trailing run of symbol characters. Exposed for tests.
  static std::string WordBeforeCursor(const std::string& before);
  // The longest prefix shared by every word.
  static std::string CommonPrefix(const std::vector<std::string>& words);

 private:
  struct Editor;  // libedit's EditLine and History, behind a pointer
  Result ReadPlain(const std::string& prompt, std::string* line);

  Options options_;
  std::unique_ptr<Editor> editor_;
  std::string pending_;  // plain mode: bytes read past the last newline
  bool plain_eof_ = false;
};

}  // namespace sx::host
