// line_editor.cc — libedit on a terminal, plain reads elsewhere.
//
// libedit is driven through its native interface (histedit.h), not its
// readline emulation, so that Ctrl-C can end a read cleanly: the editor reads
// characters through our GetChar, which waits in short polls, sees the
// SIGINT's flag and makes el_gets return with nothing. The SIGINT handler is
// installed without SA_RESTART (the REPL does so), so that a poll the signal
// lands in returns at once.
#include "host/cli/line_editor.h"

#include <fcntl.h>
#include <histedit.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <clocale>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cwchar>

namespace sx::host {

namespace {

volatile std::sig_atomic_t g_interrupted = 0;
volatile std::sig_atomic_t g_resized = 0;

void OnResize(int) { g_resized = 1; }

// Characters that end a symbol, so the word to complete is what follows the
// last of them.
bool IsDelimiter(char c) { return std::strchr(" \t\n\r()[]{}\"'`,;@", c) != nullptr; }

}  // namespace

void NoteInterruptSignal() { g_interrupted = 1; }

bool InterruptSignalPending() { return g_interrupted != 0; }

void ClearInterruptSignal() { g_interrupted = 0; }

struct LineEditor::Editor {
  EditLine* el = nullptr;
  History* history = nullptr;
  std::string prompt;
  LineEditor* owner = nullptr;
  struct sigaction old_winch {};
  // Where GetChar reads: the terminal opened again, non-blocking, so that a
  // read after poll cannot block (see GetChar); stdin where that fails.
  int in_fd = STDIN_FILENO;

  ~Editor() {
    if (el != nullptr) el_end(el);
    if (history != nullptr) history_end(history);
    sigaction(SIGWINCH, &old_winch, nullptr);
    if (in_fd != STDIN_FILENO) close(in_fd);
  }

  static Editor* From(EditLine* el) {
    void* data = nullptr;
    el_get(el, EL_CLIENTDATA, &data);
    return static_cast<Editor*>(data);
  }

  static char* Prompt(EditLine* el) { return From(el)->prompt.data(); }

  // One character of input, decoded from the locale's multibyte encoding.
  // 1: a character; 0: end of input; -1: an error or a Ctrl-C.
  static int GetChar(EditLine* el, wchar_t* out) {
    int fd = From(el)->in_fd;
    std::mbstate_t state{};
    for (;;) {
      // A SIGINT may land while libedit is writing, not reading; then no
      // read() is there to be interrupted. So wait in short slices and look
      // at the flag each time instead of blocking in read().
      if (g_interrupted) return -1;
      pollfd p{fd, POLLIN, 0};
      int ready = poll(&p, 1, 50);
      if (ready == 0 || (ready < 0 && errno == EINTR)) continue;
      // The terminal drops its typed-ahead input when it sends SIGINT: a
      // Ctrl-C between poll and read leaves nothing to read, and a blocking
      // read would wait past the signal, already handled, for a next key.
      char byte;
      ssize_t n = read(fd, &byte, 1);
      if (n == 0) return 0;
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) continue;
        if (errno != EINTR || g_interrupted) return -1;
        continue;
      }
      if (g_resized) {  // noticed at the next key: SIGWINCH restarts reads
        g_resized = 0;
        el_resize(el);
      }
      wchar_t wc;
      size_t k = std::mbrtowc(&wc, &byte, 1, &state);
      if (k == static_cast<size_t>(-2)) continue;  // more bytes to come
      // An invalid byte is passed through as itself rather than dropped.
      *out = k == static_cast<size_t>(-1) ? static_cast<unsigned char>(byte) : wc;
      return 1;
    }
  }

  static unsigned char Complete(EditLine* el, int) {
    Editor* self = From(el);
    const LineInfo* li = el_line(el);
    std::string before(li->buffer, li->cursor);
    if (!self->owner->options_.complete) return CC_ERROR;
    std::vector<std::string> words = self->owner->options_.complete(before);
    std::string stem = WordBeforeCursor(before);
    if (stem.empty() && before.find_first_not_of(" \t") == std::string::npos) {
      el_insertstr(el, "  ");  // Tab at the start of a line indents
      return CC_REFRESH;
    }
    if (words.empty()) return CC_ERROR;
    std::string common = CommonPrefix(words);
    if (common.size() > stem.size()) {
      std::string rest = common.substr(stem.size());
      if (words.size() == 1) rest += ' ';
      el_insertstr(el, rest.c_str());
      return CC_REFRESH;
    }
    if (words.size() == 1) return CC_REFRESH;
    self->ListChoices(words);
    return CC_REDISPLAY;
  }

  // Prints the candidates in columns below the line being edited.
  void ListChoices(const std::vector<std::string>& words) {
    size_t widest = 0;
    for (const std::string& w : words) widest = std::max(widest, w.size());
    size_t columns = std::max<size_t>(1, static_cast<size_t>(owner->width()) / (widest + 2));
    constexpr size_t kMaxShown = 200;
    std::fputc('\n', stdout);
    size_t shown = std::min(words.size(), kMaxShown);
    for (size_t i = 0; i < shown; ++i) {
      bool last_in_row = (i + 1) % columns == 0 || i + 1 == shown;
      if (last_in_row) {
        std::fprintf(stdout, "%s\n", words[i].c_str());
      } else {
        std::fprintf(stdout, "%-*s", static_cast<int>(widest + 2), words[i].c_str());
      }
    }
    if (words.size() > shown) std::fprintf(stdout, "... and %zu more\n", words.size() - shown);
    std::fflush(stdout);
  }
};

LineEditor::LineEditor(Options options) : options_(std::move(options)) {
  if (!options_.use_terminal) return;
  // libedit works in wide characters decoded by the locale; SX text is
  // UTF-8, so a locale that cannot decode it (C, POSIX) is upgraded.
  std::setlocale(LC_CTYPE, "");
  if (MB_CUR_MAX == 1) std::setlocale(LC_CTYPE, "C.UTF-8");
  auto ed = std::make_unique<Editor>();
  ed->owner = this;
  ed->el = el_init("sx", stdin, stdout, stderr);
  ed->history = history_init();
  if (ed->el == nullptr || ed->history == nullptr) return;  // plain reads, then
  HistEvent ev;
  history(ed->history, &ev, H_SETSIZE, static_cast<int>(options_.history_size));
  history(ed->history, &ev, H_SETUNIQUE, 1);
  if (!options_.history_path.empty()) {
    history(ed->history, &ev, H_LOAD, options_.history_path.c_str());
  }
  // A description of the terminal of our own: O_NONBLOCK on stdin's would
  // be shared with the shell that started us.
  if (const char* tty = ttyname(STDIN_FILENO); tty != nullptr) {
    int fd = open(tty, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd >= 0) ed->in_fd = fd;
  }
  EditLine* el = ed->el;
  el_set(el, EL_CLIENTDATA, ed.get());
  el_set(el, EL_EDITOR, "emacs");
  el_set(el, EL_HIST, history, ed->history);
  el_set(el, EL_PROMPT, &Editor::Prompt);
  el_set(el, EL_GETCFN, &Editor::GetChar);
  // The wide form: the narrow el_set copies the name and help text and
  // never frees them; el_wset keeps these static strings as they are.
  el_wset(el, EL_ADDFN, L"sx-complete", L"complete a bound name", &Editor::Complete);
  el_set(el, EL_BIND, "^I", "sx-complete", nullptr);
  // The emacs map leaves ^R as "redisplay"; make it search history as in
  // bash and readline.
  el_set(el, EL_BIND, "^R", "em-inc-search-prev", nullptr);
  el_source(el, nullptr);  // the user's ~/.editrc may rebind any of this

  // SA_RESTART: a resize must not fail the store's system calls mid-write.
  struct sigaction sa {};
  sa.sa_handler = OnResize;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGWINCH, &sa, &ed->old_winch);
  editor_ = std::move(ed);
}

LineEditor::~LineEditor() = default;

LineEditor::Result LineEditor::Read(const std::string& prompt, std::string* line) {
  // A Ctrl-C that came between two reads (no evaluation ran to take it) is
  // for this read: the line being typed is dropped.
  if (g_interrupted) {
    g_interrupted = 0;
    if (editor_ != nullptr || options_.show_prompt) std::fputc('\n', stdout);
    return Result::kInterrupted;
  }
  if (editor_ == nullptr) return ReadPlain(prompt, line);
  editor_->prompt = prompt;
  std::fflush(stdout);
  int count = 0;
  const char* text = el_gets(editor_->el, &count);
  if (g_interrupted) {
    g_interrupted = 0;
    std::fputc('\n', stdout);
    return Result::kInterrupted;
  }
  if (text == nullptr || count <= 0) return Result::kEnd;
  line->assign(text, static_cast<size_t>(count));
  while (!line->empty() && (line->back() == '\n' || line->back() == '\r')) line->pop_back();
  return Result::kLine;
}

LineEditor::Result LineEditor::ReadPlain(const std::string& prompt, std::string* line) {
  if (options_.show_prompt) {
    std::fputs(prompt.c_str(), stdout);
    std::fflush(stdout);
  }
  for (;;) {
    if (size_t nl = pending_.find('\n'); nl != std::string::npos) {
      line->assign(pending_, 0, nl);
      pending_.erase(0, nl + 1);
      if (!line->empty() && line->back() == '\r') line->pop_back();
      return Result::kLine;
    }
    if (plain_eof_) {
      if (pending_.empty()) return Result::kEnd;
      line->swap(pending_);
      pending_.clear();
      return Result::kLine;
    }
    char buf[4096];
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n > 0) {
      pending_.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      plain_eof_ = true;
    } else if (g_interrupted) {
      g_interrupted = 0;
      pending_.clear();
      if (options_.show_prompt) std::fputc('\n', stdout);
      return Result::kInterrupted;
    }
  }
}

void LineEditor::AddHistory(const std::string& line) {
  if (editor_ == nullptr || line.find_first_not_of(" \t") == std::string::npos) return;
  HistEvent ev;
  history(editor_->history, &ev, H_ENTER, line.c_str());
  // Saved after every line, so a killed session keeps what was typed.
  if (!options_.history_path.empty()) {
    history(editor_->history, &ev, H_SAVE, options_.history_path.c_str());
  }
}

int LineEditor::width() const {
  struct winsize ws {};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

std::string LineEditor::WordBeforeCursor(const std::string& before) {
  size_t start = before.size();
  while (start > 0 && !IsDelimiter(before[start - 1])) --start;
  return before.substr(start);
}

std::string LineEditor::CommonPrefix(const std::vector<std::string>& words) {
  if (words.empty()) return "";
  std::string prefix = words[0];
  for (const std::string& w : words) {
    size_t n = 0;
    while (n < prefix.size() && n < w.size() && prefix[n] == w[n]) ++n;
    prefix.resize(n);
  }
  return prefix;
}

}  // namespace sx::host
