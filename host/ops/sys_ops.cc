// sys_ops.cc — the time/*, file/*, stdin/*, stderr/*, env/* and process/*
// ops, one small function each, found through a table by name.
//
// Files are read and written whole, with POSIX calls so that every failure
// carries its errno, which the error names (strerror) beside the path. Text
// that comes in (a file, a line of stdin) must be UTF-8; bytes that are not
// are refused with the place of the first bad one, never passed on.
//
// write-file publishes atomically, as the store publishes its files: the
// bytes go to a temporary file in the same directory, which is synced and
// renamed over the target, and then the directory is synced. A reader sees
// the old file or the new one, never a part of either, and a power cut
// leaves one of the two.
#include "host/ops/sys_ops.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "host/ops/utf8_check.h"

namespace sx::host {

namespace {

struct OpFailure {
  std::string path;  // empty when the op has none
  std::string cause;
};

struct Ctx {
  Interpreter& in;
  std::string_view op;
  std::vector<Value> args;
  const SysOptions& opts;

  [[noreturn]] void Fail(std::string cause, std::string path = "") const {
    throw OpFailure{std::move(path), std::move(cause)};
  }
  [[noreturn]] void FailErrno(const std::string& path, int err) const {
    Fail(std::strerror(err), path);
  }
  void Arity(size_t n) const {
    if (args.size() != n) {
      Fail("expected " + std::to_string(n) + " argument" + (n == 1 ? "" : "s") + ", got " +
           std::to_string(args.size()));
    }
  }
  std::string Str(size_t i, const char* what) const {
    const Value& v = args[i];
    if (!v.IsString()) Fail(std::string(what) + " must be a string, got " + v.Brief());
    return v.AsString();
  }
  std::string Path(size_t i) const {
    std::string p = Str(i, "path");
    if (p.empty()) Fail("path must not be empty");
    if (p.find('\0') != std::string::npos) Fail("path must not contain a NUL byte", p);
    return p;
  }
  void CheckUtf8(const std::string& text, const std::string& path, const char* what) const {
    size_t bad = 0;
    if (ValidUtf8(text, &bad)) return;
    size_t line = 0, col = 0;
    LineAndColumn(text, bad, &line, &col);
    Fail(std::string(what) + " is not valid UTF-8 (byte " + std::to_string(bad) + ", line " +
             std::to_string(line) + ", column " + std::to_string(col) + ")",
         path);
  }
};

// Writes all of `text` to fd; false with errno set on failure.
bool WriteAll(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    text.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Closes fd, keeping the errno of an earlier failure.
void CloseKeepingErrno(int fd) {
  int saved = errno;
  ::close(fd);
  errno = saved;
}

// --- time -----------------------------------------------------------------------

Value OpNowMs(Ctx& c) {
  c.Arity(0);
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return c.in.Int(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
}

Value OpClockNs(Ctx& c) {
  c.Arity(0);
  auto now = std::chrono::steady_clock::now().time_since_epoch();
  return c.in.Int(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count());
}

// --- files ----------------------------------------------------------------------

// Opens a file for reading, refusing a directory (which open() accepts).
int OpenToRead(const Ctx& c, const std::string& path, struct stat* st) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) c.FailErrno(path, errno);
  if (::fstat(fd, st) != 0) {
    CloseKeepingErrno(fd);
    c.FailErrno(path, errno);
  }
  if (S_ISDIR(st->st_mode)) {
    ::close(fd);
    c.Fail("is a directory, not a file", path);
  }
  return fd;
}

Value OpRead(Ctx& c) {
  c.Arity(1);
  std::string path = c.Path(0);
  struct stat st {};
  int fd = OpenToRead(c, path, &st);
  std::string text;
  if (S_ISREG(st.st_mode)) text.reserve(static_cast<size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      CloseKeepingErrno(fd);
      c.FailErrno(path, errno);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  c.CheckUtf8(text, path, "the file");
  return c.in.String(text);
}

// Splits text into lines, dropping each "\n" or "\r\n"; a final newline
// makes no empty last line.
std::vector<Value> SplitLines(Interpreter& in, std::string_view text) {
  std::vector<Value> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    size_t stop = end > start && text[end - 1] == '\r' ? end - 1 : end;
    lines.push_back(in.String(text.substr(start, stop - start)));
    start = end + 1;
  }
  return lines;
}

// The whole lines of a file from byte `offset`, about `max` bytes of them
// (more when one line is longer), so a script can walk a file of any size
// holding one piece at a time: {:lines (...) :next OFFSET :done BOOL}.
Value OpReadLines(Ctx& c) {
  c.Arity(3);
  std::string path = c.Path(0);
  if (!c.args[1].IsInt() || c.args[1].AsInt() < 0) {
    c.Fail("offset must be a non-negative integer, got " + c.args[1].Brief(), path);
  }
  if (!c.args[2].IsInt() || c.args[2].AsInt() < 1) {
    c.Fail("max-bytes must be a positive integer, got " + c.args[2].Brief(), path);
  }
  auto offset = static_cast<off_t>(c.args[1].AsInt());
  auto want = static_cast<size_t>(c.args[2].AsInt());
  struct stat st {};
  int fd = OpenToRead(c, path, &st);
  std::string buf;
  bool eof = false;
  size_t take = 0;
  for (;;) {
    while (!eof && buf.size() < want) {
      size_t old = buf.size();
      buf.resize(want);
      ssize_t n = ::pread(fd, buf.data() + old, want - old, offset + static_cast<off_t>(old));
      if (n < 0) {
        buf.resize(old);
        if (errno == EINTR) continue;
        CloseKeepingErrno(fd);
        c.FailErrno(path, errno);
      }
      buf.resize(old + static_cast<size_t>(n));
      eof = n == 0;
    }
    if (eof) {
      take = buf.size();
      break;
    }
    size_t nl = buf.rfind('\n');
    if (nl != std::string::npos) {
      take = nl + 1;
      break;
    }
    want *= 2;  // a line longer than the piece: read on to its end
  }
  ::close(fd);
  std::string_view text(buf.data(), take);
  size_t bad = 0;
  if (!ValidUtf8(text, &bad)) {
    c.Fail("the file is not valid UTF-8 (byte " + std::to_string(offset + static_cast<off_t>(bad)) +
               ")",
           path);
  }
  std::vector<std::pair<std::string, Value>> answer = {
      {"lines", c.in.List(SplitLines(c.in, text))},
      {"next", c.in.Int(static_cast<int64_t>(offset) + static_cast<int64_t>(take))},
      {"done", c.in.Bool(eof)}};
  return c.in.Dict(answer);
}

std::string ParentDir(const std::string& path) {
  std::string parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

// The mode a new file gets from open(..., 0666): what the umask leaves.
mode_t NewFileMode() {
  mode_t mask = ::umask(0);
  ::umask(mask);
  return 0666 & ~mask;
}

Value OpWrite(Ctx& c) {
  c.Arity(2);
  std::string path = c.Path(0);
  std::string text = c.Str(1, "text");
  // A file written again keeps its permissions; a new one gets the umask's.
  struct stat st {};
  bool exists = ::stat(path.c_str(), &st) == 0;
  if (exists && S_ISDIR(st.st_mode)) c.Fail("is a directory, not a file", path);
  mode_t mode = exists ? (st.st_mode & 07777) : NewFileMode();
  std::string temp = path + ".tmp-XXXXXX";
  int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) c.FailErrno(path, errno);
  bool ok = ::fchmod(fd, mode) == 0 && WriteAll(fd, text) && ::fsync(fd) == 0;
  if (!ok) CloseKeepingErrno(fd);
  ok = ok && ::close(fd) == 0 && ::rename(temp.c_str(), path.c_str()) == 0;
  if (!ok) {
    int err = errno;
    ::unlink(temp.c_str());
    c.FailErrno(path, err);
  }
  // The rename is durable once the directory is synced.
  int dir = ::open(ParentDir(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) c.FailErrno(path, errno);
  ok = ::fsync(dir) == 0;
  CloseKeepingErrno(dir);
  if (!ok) c.FailErrno(path, errno);
  return c.in.Nil();
}

Value OpAppend(Ctx& c) {
  c.Arity(2);
  std::string path = c.Path(0);
  std::string text = c.Str(1, "text");
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) c.FailErrno(path, errno);
  bool ok = WriteAll(fd, text);
  if (!ok) CloseKeepingErrno(fd);
  if (!ok || ::close(fd) != 0) c.FailErrno(path, errno);
  return c.in.Nil();
}

Value OpExists(Ctx& c) {
  c.Arity(1);
  std::string path = c.Path(0);
  struct stat st {};
  return c.in.Bool(::stat(path.c_str(), &st) == 0);
}

Value OpListDir(Ctx& c) {
  c.Arity(1);
  std::string path = c.Path(0);
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) c.FailErrno(path, errno);
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = ::readdir(dir)) {
    std::string_view name = e->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) c.FailErrno(path, err);
  std::sort(names.begin(), names.end());
  std::vector<Value> items;
  items.reserve(names.size());
  for (const std::string& n : names) items.push_back(c.in.String(n));
  return c.in.List(items);
}

Value OpDelete(Ctx& c) {
  c.Arity(1);
  std::string path = c.Path(0);
  if (std::remove(path.c_str()) != 0) c.FailErrno(path, errno);
  return c.in.Nil();
}

Value OpMakeDir(Ctx& c) {
  c.Arity(1);
  std::string path = c.Path(0);
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) c.Fail(ec.message(), path);
  return c.in.Nil();
}

// --- streams, the environment, exit ----------------------------------------------------

Value OpReadLine(Ctx& c) {
  c.Arity(0);
  std::fflush(stdout);  // a prompt printed before reading shows first
  char* line = nullptr;
  size_t cap = 0;
  errno = 0;
  ssize_t n = ::getline(&line, &cap, stdin);
  if (n < 0) {
    int err = errno;
    std::free(line);
    if (err != 0 && !std::feof(stdin)) c.FailErrno("", err);
    return c.in.Nil();  // end of input
  }
  std::string text(line, static_cast<size_t>(n));
  std::free(line);
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();  // a line ended by \r\n
  c.CheckUtf8(text, "", "the line");
  return c.in.String(text);
}

Value OpWriteStderr(Ctx& c) {
  c.Arity(1);
  std::string text = c.Str(0, "text");
  std::fflush(stdout);  // what the script printed before comes first
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
  return c.in.Nil();
}

Value OpGetenv(Ctx& c) {
  c.Arity(1);
  std::string name = c.Str(0, "name");
  const char* v = std::getenv(name.c_str());
  return v == nullptr ? c.in.Nil() : c.in.String(v);
}

Value OpExit(Ctx& c) {
  c.Arity(1);
  const Value& code = c.args[0];
  if (!code.IsInt() || code.AsInt() < 0 || code.AsInt() > 255) {
    c.Fail("the exit code must be an integer from 0 to 255, got " + code.Brief());
  }
  std::fflush(stdout);
  std::fflush(stderr);
  int n = static_cast<int>(code.AsInt());
  if (c.opts.exit) c.opts.exit(n);
  std::exit(n);
}

struct OpEntry {
  const char* name;
  Value (*fn)(Ctx&);
};

const OpEntry kOps[] = {
    {"time/now-ms", OpNowMs},        {"time/clock-ns", OpClockNs},
    {"file/read", OpRead},           {"file/read-lines", OpReadLines},
    {"file/write", OpWrite},         {"file/append", OpAppend},
    {"file/exists?", OpExists},      {"file/list-dir", OpListDir},
    {"file/delete", OpDelete},       {"file/make-dir", OpMakeDir},
    {"stdin/read-line", OpReadLine}, {"stderr/write", OpWriteStderr},
    {"env/get", OpGetenv},           {"process/exit", OpExit},
};

IoResult Failure(Interpreter& in, std::string_view op, const OpFailure& f) {
  std::string msg(op);
  if (!f.path.empty()) msg += ": " + in.String(f.path).Brief();
  msg += ": " + f.cause;
  std::vector<std::pair<std::string, Value>> data = {{"op", in.String(op)},
                                                     {"cause", in.String(f.cause)}};
  if (!f.path.empty()) data.emplace_back("path", in.String(f.path));
  return IoResult::Failed(msg, in.Dict(data));
}

}  // namespace

IoResult HandleSysOp(Interpreter& in, std::string_view op, const Value& args,
                     const SysOptions& opts) {
  const OpEntry* entry = nullptr;
  for (const OpEntry& e : kOps) {
    if (op == e.name) {
      entry = &e;
      break;
    }
  }
  if (entry == nullptr) return IoResult::Pass();
  if (!args.IsNil() && !args.IsList()) {
    return Failure(in, op, {"", ":args must be a list, got " + args.Brief()});
  }
  Ctx c{in, op, args.IsNil() ? std::vector<Value>{} : args.Items(), opts};
  try {
    return IoResult::Served(entry->fn(c));
  } catch (const OpFailure& f) {
    return Failure(in, op, f);
  }
}

void InstallSysOps(Interpreter& in, SysOptions opts) {
  in.AddIoHandler(
      [opts = std::move(opts)](Interpreter& in, std::string_view op, const Value& args,
                               const Value&) { return HandleSysOp(in, op, args, opts); });
}

}  // namespace sx::host
