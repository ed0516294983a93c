// The REPL driven as a person would drive it: `sx` runs on a pseudo-terminal,
// the test types keys (Enter, arrows, Ctrl-C, Ctrl-D) and waits for what
// should appear. Waits poll the output with generous deadlines, so a loaded
// machine is slow, never flaky. Each session gets its own data directory and
// history file; nothing reads the real HOME.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kWaitMs = 60000;  // for output that must come
constexpr const char* kEnter = "\r";
constexpr const char* kUp = "\x1b[A";
constexpr const char* kCtrlC = "\x03";
constexpr const char* kCtrlD = "\x04";
constexpr const char* kCtrlR = "\x12";

// A temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "sx-repl-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Terminal output as a person reads it: escape sequences and carriage
// returns removed.
std::string Readable(const std::string& raw) {
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '\r' || c == '\a') continue;
    if (c != '\x1b') {
      out += c;
      continue;
    }
    if (i + 1 < raw.size() && raw[i + 1] == '[') {  // CSI ... final byte
      i += 2;
      while (i < raw.size() && !(raw[i] >= 0x40 && raw[i] <= 0x7e)) ++i;
    } else {
      ++i;  // ESC and one character
    }
  }
  return out;
}

// One `sx` process on a pseudo-terminal.
class Session {
 public:
  Session(const TempDir& dir, std::map<std::string, std::string> env = {},
          std::vector<std::string> args = {}) {
    std::map<std::string, std::string> vars = {
        {"TERM", "xterm"},
        {"NO_COLOR", "1"},
        {"LANG", "C.UTF-8"},
        {"HOME", dir.path()},
        {"SX_HISTORY", dir / "history"},
    };
    for (auto& [k, v] : env) vars[k] = v;
    if (args.empty()) args = {"--data-dir", dir / "data"};
    struct winsize ws {};
    ws.ws_row = 30;
    ws.ws_col = 100;
    pid_ = forkpty(&master_, nullptr, nullptr, &ws);
    if (pid_ == 0) {
      unsetenv("SX_PERSIST_DIR");
      unsetenv("SX_PERSIST_SYNC");
      for (auto& [k, v] : vars) {
        if (v == "<unset>") {
          unsetenv(k.c_str());
        } else {
          setenv(k.c_str(), v.c_str(), 1);
        }
      }
      std::vector<char*> argv{const_cast<char*>(SX_BINARY)};
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(SX_BINARY, argv.data());
      _exit(127);
    }
  }

  ~Session() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) close(master_);
  }

  bool started() const { return pid_ > 0 && master_ >= 0; }

  void Type(const std::string& keys) {
    size_t done = 0;
    while (done < keys.size()) {
      ssize_t n = write(master_, keys.data() + done, keys.size() - done);
      if (n <= 0) return;
      done += static_cast<size_t>(n);
    }
  }

  // Types keys meant for the line editor (arrows, Tab, Ctrl-C or Ctrl-D at
  // a prompt). libedit may show its prompt a moment before it puts the
  // terminal in raw mode, and a Ctrl-D typed in that moment is the cooked
  // terminal's end-of-file, lost on the switch: so wait for raw mode.
  void Key(const std::string& keys) {
    WaitForMode(false);
    Type(keys);
  }

  // Waits until the terminal is in canonical mode (editing: false) or raw
  // mode (true). Between prompts, while an evaluation runs, it is canonical.
  void WaitForMode(bool canonical) {
    auto deadline = Clock::now() + std::chrono::milliseconds(kWaitMs);
    termios t{};
    while (tcgetattr(master_, &t) == 0 && ((t.c_lflag & ICANON) != 0) != canonical &&
           Clock::now() < deadline) {
      Pump(Clock::now() + std::chrono::milliseconds(5));
    }
  }

  // Waits until `text` shows up after the point the last Expect stopped at,
  // then moves that point past it.
  bool Expect(const std::string& text, int timeout_ms = kWaitMs) {
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      std::string seen = Readable(raw_);
      if (size_t at = seen.find(text, mark_); at != std::string::npos) {
        mark_ = at + text.size();
        return true;
      }
      if (Clock::now() >= deadline || !Pump(deadline)) {
        ADD_FAILURE() << "never saw \"" << text << "\" after:\n" << Readable(raw_).substr(mark_);
        return false;
      }
    }
  }

  // The exit status once the process ends; -1 if it does not in time.
  int WaitExit(int timeout_ms = kWaitMs) {
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      if (Clock::now() >= deadline) {
        ADD_FAILURE() << "sx did not exit; its terminal shows:\n" << Readable(raw_);
        return -1;
      }
      Pump(Clock::now() + std::chrono::milliseconds(50));
    }
  }

  std::string raw() const { return raw_; }
  std::string readable() const { return Readable(raw_); }

 private:
  // Reads what is available before the deadline; false when the terminal
  // is gone and nothing more can come.
  bool Pump(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd p{master_, POLLIN, 0};
    int ready =
        poll(&p, 1, static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(left.count(), 200))));
    if (ready <= 0) return true;
    char buf[4096];
    ssize_t n = read(master_, buf, sizeof buf);
    if (n <= 0) return false;
    raw_.append(buf, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int master_ = -1;
  bool exited_ = false;
  std::string raw_;
  size_t mark_ = 0;
};

// Runs a shell command line, returning what it wrote to stdout.
std::string Shell(const std::string& command, int* status) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = pclose(p);
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

TEST(ReplPty, StartsWithABannerAndEvaluates) {
  TempDir dir;
  Session s(dir);
  ASSERT_TRUE(s.started());
  ASSERT_TRUE(s.Expect("sx> "));
  s.Type(std::string("(+ 1 2)") + kEnter);
  EXPECT_TRUE(s.Expect("\n3\n"));
  EXPECT_TRUE(s.Expect("sx> "));
}

TEST(ReplPty, UnbalancedFormGetsAContinuationPrompt) {
  TempDir dir;
  Session s(dir);
  ASSERT_TRUE(s.Expect("sx> "));
  s.Type(std::string("(list 1") + kEnter);
  ASSERT_TRUE(s.Expect("...> "));
  s.Type(std::string("  (+ 1 1)") + kEnter);
  ASSERT_TRUE(s.Expect("...> "));
  s.Type(std::string("  3)") + kEnter);
  EXPECT_TRUE(s.Expect("\n(1 2 3)\n"));
  EXPECT_TRUE(s.Expect("sx> "));
}

TEST(ReplPty, ErrorInAMultiLineFormKeepsItsLineAndTheReplGoesOn) {
  TempDir dir;
  Session s(dir);
  ASSERT_TRUE(s.Expect("sx> "));
  s.Type(std::string("(list 1") + kEnter);
  ASSERT_TRUE(s.Expect("...> "));
  s.Type(std::string("  (no-such-fn 2))") + kEnter);
  EXPECT_TRUE(s.Expect("<repl>:2:3: error: unbound symbol: no-such-fn"));
  EXPECT_TRUE(s.Expect("  at <repl>:2:3"));  // the backtrace: one line per activation
  ASSERT_TRUE(s.Expect("sx> "));
  s.Type(std::string("(* 6 7)") + kEnter);
  EXPECT_TRUE(s.Expect("\n42\n"));
  s.Type(std::string("(error-message *e)") + kEnter);
  EXPECT_TRUE(s.Expect("\n\"unbound symbol: no-such-fn\"\n"));
}

TEST(ReplPty, CtrlCInterruptsAnEndlessLoop) {
  TempDir dir;
  Session s(dir);
  ASSERT_TRUE(s.Expect("sx> "));
  s.Type(std::string("(define (f) (f))") + kEnter);
  ASSERT_TRUE(s.Expect("sx> "));
  s.Key(std::string("(f)") + kEnter);
  s.WaitForMode(true);  // the editor is done with the line: the loop is starting
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  s.Type(kCtrlC);
  EXPECT_TRUE(s.Expect("interrupted"));
  ASSERT_TRUE(s.Expect("sx> "));
  s.Type(std::string("(+ 1 1)") + kEnter);
  EXPECT_TRUE(s.Expect("\n2\n"));
}

TEST(ReplPty, OneCtrlCInterruptsASleepAtOnce) {
  TempDir dir;
  Session s(dir);
  ASSERT_TRUE(s.Expect("sx> "));
  s.Key(std::string("(sleep 600000)") + kEnter);
  s.WaitForMode(true);  // the editor is done with the line: the sleep is starting
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  s.Type(kCtrlC);
  EXPECT_TRUE(s.Expect("error: interrupted"));
  ASSERT_TRUE(s.Expect("sx> "));
  s.Type(std::string("(+ 1 1)") + kEnter);  // the REPL is still there
  EXPECT_TRUE(s.Expect("\n2\n"));
}

TEST(ReplPty, OneCtrlCInterruptsAnAwait) {
  TempDir dir;
  Session s(dir);
  ASSERT_TRUE(s.Expect("sx> "));
  // The entry is done, but the scheduler waits on the task it spawned:
  // Ctrl-C stops the wait and leaves the task where it is.
  s.Key(std::string("(define t (spawn (fn () (sleep 600000) :late)))") + kEnter);
  s.WaitForMode(true);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  s.Type(kCtrlC);
  ASSERT_TRUE(s.Expect("sx> "));
  s.Key(std::string("(await t)") + kEnter);
  s.WaitForMode(true);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  s.Type(kCtrlC);
  EXPECT_TRUE(s.Expect("error: interrupted"));
  ASSERT_TRUE(s.Expect("sx> "));
  // The task still sleeps; cancelled, it no longer holds up later entries.
  s.Type(std::string("(begin (cancel t) (+ 2 2))") + kEnter);
  EXPECT_TRUE(s.Expect("\n4\n"));
}

TEST(ReplPty, QuitAndExitAsWordsSayHowToLeave) {
  TempDir dir;
  Session s(dir);
  ASSERT_TRUE(s.Expect("sx> "));
  s.Type(std::string("quit") + kEnter);
  EXPECT_TRUE(s.Expect("to leave, type :quit or press Ctrl-D"));
  ASSERT_TRUE(s.Expect("sx> "));
  s.Type(std::string("  exit ") + kEnter);
  EXPECT_TRUE(s.Expect("to leave, type :quit or press Ctrl-D"));
  ASSERT_TRUE(s.Expect("sx> "));
  // A name the user bound is evaluated as usual.
  s.Type(std::string("(define exit 5)") + kEnter);
  ASSERT_TRUE(s.Expect("sx> "));
  s.Type(std::string("exit") + kEnter);
  EXPECT_TRUE(s.Expect("\n5\n"));
}

TEST(ReplPty, CtrlCDuringAppendsLeavesTheStoreWritable) {
  TempDir dir;
  Session s(dir);
  ASSERT_TRUE(s.Expect("sx> "));
  s.Type(std::string("(define (g n) (perform {:op \"persist/append\" :args (list \"s\" {:seq n})})"
                     " (g (+ n 1)))") +
         kEnter);
  ASSERT_TRUE(s.Expect("sx> "));
  s.Key(std::string("(g 1)") + kEnter);
  s.WaitForMode(true);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  s.Type(kCtrlC);
  ASSERT_TRUE(s.Expect("interrupted"));
  ASSERT_TRUE(s.Expect("sx> "));
  s.Type(std::string("(let ((n (perform {:op \"persist/last-seq\" :args (list \"s\")})))"
                     " (perform {:op \"persist/append\" :args (list \"s\" {:seq (+ n 1)})})"
                     " (if (> n 0) :appended-after-interrupt :nothing-appended))") +
         kEnter);
  EXPECT_TRUE(s.Expect("\n:appended-after-interrupt\n"));
}

TEST(ReplPty, CtrlCAtThePromptDropsTheLine) {
  TempDir dir;
  Session s(dir);
  ASSERT_TRUE(s.Expect("sx> "));
  s.Type("(list 1");
  s.Type(kEnter);
  ASSERT_TRUE(s.Expect("...> "));
  s.Key("2 3");  // typed into the editor, which then takes the Ctrl-C
  s.Key(kCtrlC);
  ASSERT_TRUE(s.Expect("sx> "));
  s.Type(std::string("(+ 2 2)") + kEnter);
  EXPECT_TRUE(s.Expect("\n4\n"));
}

TEST(ReplPty, UpArrowRecallsHistoryAcrossSessions) {
  TempDir dir;
  {
    Session s(dir);
    ASSERT_TRUE(s.Expect("sx> "));
    s.Type(std::string("(+ 40 2)") + kEnter);
    ASSERT_TRUE(s.Expect("\n42\n"));
    ASSERT_TRUE(s.Expect("sx> "));
    s.Key(kUp);
    s.Type(kEnter);
    EXPECT_TRUE(s.Expect("\n42\n"));
    ASSERT_TRUE(s.Expect("sx> "));
    s.Key(kCtrlD);
    EXPECT_EQ(s.WaitExit(), 0);
  }
  ASSERT_TRUE(fs::exists(dir / "history"));
  Session again(dir);
  ASSERT_TRUE(again.Expect("sx> "));
  again.Type(std::string("(+ 1 1)") + kEnter);
  ASSERT_TRUE(again.Expect("\n2\n"));
  ASSERT_TRUE(again.Expect("sx> "));
  again.Key(kUp);
  again.Key(kUp);
  again.Type(kEnter);
  EXPECT_TRUE(again.Expect("\n42\n"));
}

TEST(ReplPty, CtrlRSearchesHistory) {
  TempDir dir;
  Session s(dir);
  ASSERT_TRUE(s.Expect("sx> "));
  s.Type(std::string("(* 111 3)") + kEnter);
  ASSERT_TRUE(s.Expect("\n333\n"));
  s.Type(std::string("(+ 1 1)") + kEnter);
  ASSERT_TRUE(s.Expect("\n2\n"));
  ASSERT_TRUE(s.Expect("sx> "));
  s.Key(kCtrlR);
  s.Type("111");
  s.Type(kEnter);
  EXPECT_TRUE(s.Expect("\n333\n"));
}

TEST(ReplPty, TabCompletesBoundNames) {
  TempDir dir;
  Session s(dir);
  ASSERT_TRUE(s.Expect("sx> "));
  s.Type(std::string("(define unusually-long-name 7)") + kEnter);
  ASSERT_TRUE(s.Expect("sx> "));
  s.Type("(+ unusually-lo");
  s.Key("\t");
  ASSERT_TRUE(s.Expect("unusually-long-name"));
  s.Type(std::string("1)") + kEnter);
  EXPECT_TRUE(s.Expect("\n8\n"));
  ASSERT_TRUE(s.Expect("sx> "));
  s.Type(":sto");
  s.Key("\t");
  s.Type(kEnter);
  EXPECT_TRUE(s.Expect("data dir"));
}

TEST(ReplPty, DocShowsADocstring) {
  TempDir dir;
  Session s(dir);
  ASSERT_TRUE(s.Expect("sx> "));
  s.Type(std::string(":doc map") + kEnter);
  EXPECT_TRUE(s.Expect("(map f list...)"));
  ASSERT_TRUE(s.Expect("sx> "));
  s.Type(std::string(":doc no-such-thing") + kEnter);
  EXPECT_TRUE(s.Expect("no-such-thing is not bound"));
  ASSERT_TRUE(s.Expect("sx> "));
  s.Type(std::string(":help") + kEnter);
  EXPECT_TRUE(s.Expect(":store"));
}

TEST(ReplPty, LastResultsAndFolding) {
  TempDir dir;
  Session s(dir);
  ASSERT_TRUE(s.Expect("sx> "));
  s.Type(std::string("(+ 1 2)") + kEnter);
  ASSERT_TRUE(s.Expect("\n3\n"));
  s.Type(std::string("(* *1 10)") + kEnter);
  ASSERT_TRUE(s.Expect("\n30\n"));
  s.Type(std::string("(list *1 *2)") + kEnter);
  EXPECT_TRUE(s.Expect("\n(30 3)\n"));
  s.Type(std::string("(range 5000)") + kEnter);
  EXPECT_TRUE(s.Expect("more characters; :show prints all)"));
  ASSERT_TRUE(s.Expect("sx> "));
  s.Type(std::string(":show") + kEnter);  // all of it, broken over lines of the terminal's width
  EXPECT_TRUE(s.Expect("\n 36 37 38 "));
  EXPECT_TRUE(s.Expect(" 4999)\n"));
}

TEST(ReplPty, AListOfEventsPrintsOnePerLine) {
  TempDir dir;
  Session s(dir);
  ASSERT_TRUE(s.Expect("sx> "));
  s.Type(std::string("(map (fn (i) {:seq i :type \"placed\" :data {:note \"") +
         std::string(60, 'x') + "\"}}) (list 1 2))" + kEnter);
  EXPECT_TRUE(s.Expect("({:data {:note \""));
  EXPECT_TRUE(s.Expect("\n  :seq 1\n"));
  EXPECT_TRUE(s.Expect("\n {:data {:note \""));
  EXPECT_TRUE(s.Expect("\n  :seq 2\n"));
}

TEST(ReplPty, TimeAndStoreCommands) {
  TempDir dir;
  Session s(dir);
  ASSERT_TRUE(s.Expect("sx> "));
  s.Type(std::string(":time (reduce + 0 (range 1000))") + kEnter);
  EXPECT_TRUE(s.Expect("\n499500\n"));
  EXPECT_TRUE(s.Expect("time: "));
  EXPECT_TRUE(s.Expect(" ms\n"));
  s.Type(std::string(":store") + kEnter);
  EXPECT_TRUE(s.Expect("not created yet"));
  s.Type(std::string("(perform {:op \"persist/append\" :args (list \"orders\" {:seq 3})})") +
         kEnter);
  ASSERT_TRUE(s.Expect("{:seq 3}"));
  s.Type(std::string(":store") + kEnter);
  EXPECT_TRUE(s.Expect("\"orders\"  last seq 3"));
  EXPECT_TRUE(s.Expect("1 stored"));
}

TEST(ReplPty, ARestartFindsTheEventsAppendedBefore) {
  TempDir dir;
  {
    Session s(dir);
    ASSERT_TRUE(s.Expect("sx> "));
    s.Type(std::string("(perform {:op \"persist/append\"") + kEnter);
    ASSERT_TRUE(s.Expect("...> "));
    s.Type(std::string("          :args (list \"notes\" {:seq 1 :text \"remember me\"})})") +
           kEnter);
    ASSERT_TRUE(s.Expect("remember me\"}\n"));
    s.Type(std::string(":quit") + kEnter);
    EXPECT_EQ(s.WaitExit(), 0);
  }
  Session again(dir);
  ASSERT_TRUE(again.Expect("sx> "));
  again.Type(std::string("(perform {:op \"persist/read\" :args (list \"notes\")})") + kEnter);
  EXPECT_TRUE(again.Expect("\n({:seq 1 :text \"remember me\"})\n"));
}

TEST(ReplPty, CtrlDOnAnEmptyLineExits) {
  TempDir dir;
  Session s(dir);
  ASSERT_TRUE(s.Expect("sx> "));
  s.Key(kCtrlD);
  EXPECT_EQ(s.WaitExit(), 0);
}

TEST(ReplPty, ColoursOnlyWithoutNoColor) {
  TempDir dir;
  {
    Session s(dir, {{"NO_COLOR", "<unset>"}});
    ASSERT_TRUE(s.Expect("sx> "));
    s.Type(std::string("(car)") + kEnter);
    ASSERT_TRUE(s.Expect("error"));
    ASSERT_TRUE(s.Expect("sx> "));
    EXPECT_NE(s.raw().find("\x1b[1;31m"), std::string::npos);
  }
  Session plain(dir);
  ASSERT_TRUE(plain.Expect("sx> "));
  plain.Type(std::string("(car)") + kEnter);
  ASSERT_TRUE(plain.Expect("error"));
  ASSERT_TRUE(plain.Expect("sx> "));
  EXPECT_EQ(plain.raw().find("\x1b[1;31m"), std::string::npos);
}

TEST(ReplPipe, EachFormIsPrintedWithNoPrompt) {
  int status = -1;
  std::string out = Shell(std::string("echo '(+ 1 2)' | NO_COLOR= ") + SX_BINARY, &status);
  EXPECT_EQ(out, "3\n");
  EXPECT_EQ(status, 0);
}

TEST(ReplPipe, ErrorsGoToStderrAndSetTheExitStatus) {
  TempDir dir;
  int status = -1;
  std::string out = Shell("printf '(list 1\\n  (oops))\\n(+ 2 2)\\n' | " + std::string(SX_BINARY) +
                              " 2>" + (dir / "err"),
                          &status);
  EXPECT_EQ(out, "4\n");
  EXPECT_EQ(status, 1);
  std::ifstream err(dir / "err");
  std::string text((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("<stdin>:2:3: error: unbound symbol: oops"), std::string::npos) << text;
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
}

TEST(ReplPipe, ForcedReplOnAPipeShowsPromptsButNoColours) {
  TempDir dir;
  int status = -1;
  std::string out = Shell("printf '(+ 1 2)\\n:doc map\\n' | " + std::string(SX_BINARY) +
                              " --repl --data-dir " + (dir / "data") + " 2>&1",
                          &status);
  EXPECT_NE(out.find("sx> 3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("(map f list...)"), std::string::npos) << out;
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  EXPECT_EQ(status, 0);
}

}  // namespace
