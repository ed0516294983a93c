// load.cc — source text into forms, and the machine's `load`, `import` and
// `eval` of a string: the one place the interpreter reads files.
#include "interp/load.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "interp/machine.h"
#include "interp/machine_internal.h"
#include "interp/printer.h"
#include "interp/reader.h"
#include "interp/state.h"

namespace sx::interp {

void StampPositions(State& S, const Reader& r) {
  uint16_t file = S.FileId(r.filename());
  for (const auto& [obj, pos] : r.positions()) {
    Obj* o = const_cast<Obj*>(obj);
    if (o->type != ObjType::kPair) continue;
    o->aux = (std::min<uint32_t>(pos.line, 0xFFFFF) << 12) | std::min<uint32_t>(pos.col, 0xFFF);
    o->flags = file;
  }
}

Value ParseSource(State& S, std::string_view text, const std::string& file) {
  Reader r(S, file);
  r.Feed(text);
  r.Finish();
  std::vector<Value> forms;
  std::vector<SrcPos> places;
  for (;;) {
    Value v;
    Reader::Status st = r.Next(&v);
    if (st == Reader::Status::kValue) {
      forms.push_back(v);
      places.push_back(r.form_pos());
      continue;
    }
    if (st == Reader::Status::kError) {
      const ReadError& e = r.error();
      std::string where = file + ":" + std::to_string(e.pos.line) + ":" + std::to_string(e.pos.col);
      Value err = S.heap.MakeError(S.heap.MakeString(e.message), Value::Nil());
      static_cast<ErrorObj*>(err.AsObj())->trace =
          S.heap.Cons(S.heap.MakeString(where), Value::EmptyList());
      throw SxThrow{err};
    }
    break;
  }
  StampPositions(S, r);
  // Each cell of the list of forms carries its form's place, as a list's
  // first cell does (an atom at top level has no cell of its own).
  Value list = S.heap.ListFrom(forms.data(), forms.size());
  uint16_t id = S.FileId(file);
  size_t i = 0;
  for (Value p = list; IsPair(p); p = Cdr(p), ++i) {
    Obj* cell = p.AsObj();
    cell->aux = (std::min<uint32_t>(places[i].line, 0xFFFFF) << 12) |
                std::min<uint32_t>(places[i].col, 0xFFF);
    cell->flags = id;
  }
  return list;
}

bool ReadSourceFile(const std::string& path, std::string* out, std::string* why) {
  // O_NONBLOCK: opening a FIFO with no writer must not wait for one.
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *why = std::strerror(errno);
    return false;
  }
  struct stat st;
  bool ok = fstat(fd, &st) == 0;
  if (!ok) {
    *why = std::strerror(errno);
  } else if (S_ISDIR(st.st_mode)) {
    *why = "it is a directory";
    ok = false;
  } else if (!S_ISREG(st.st_mode)) {
    *why = "not a regular file";
    ok = false;
  }
  out->clear();
  char buf[65536];
  while (ok) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      out->append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      *why = std::strerror(errno);
      ok = false;
    }
  }
  close(fd);
  return ok;
}

namespace {

// The folder of a source file's name, "" for code that did not come from a
// file ("<eval>", "<repl>") or from the library.
std::string FolderOf(Value file) {
  if (!IsString(file) || IsLibraryFile(file)) return "";
  std::string_view f = StringView(file);
  if (!f.empty() && f[0] == '<') return "";
  size_t slash = f.rfind('/');
  return slash == std::string_view::npos ? "." : std::string(f.substr(0, slash));
}

}  // namespace

// A relative path is looked for beside the loading file, then in the
// working directory.
void Machine::LoadFile(Node* at, Value path_value, Value* forms, Value* file) {
  std::string path(StringView(path_value));
  if (!path.empty() && path[0] != '/') {
    // Whatever is found beside the file is what is meant, even when it
    // cannot be read (a directory): then that is the error to report.
    std::string folder = FolderOf(at->file);
    std::string beside = folder + "/" + path;
    if (!folder.empty() && folder != "." && access(beside.c_str(), F_OK) == 0) path = beside;
  }
  std::string text, why;
  if (!ReadSourceFile(path, &text, &why)) {
    ThrowError(S_, "load: cannot read " + BriefText(path) + ": " + why);
  }
  *forms = ParseSource(S_, text, path);
  *file = S_.heap.MakeString(path);
}

// `import` looks in the importing file's folder, then in each search path
// directory (SX_PATH), then asks the module loader (the built-in stdlib).
// Code that is not from a file ("<eval>", "<repl>") and library modules
// have no folder of their own.
bool Machine::Import(Node* at, Value name_value, Value* forms, Value* file) {
  std::string name(StringView(name_value));
  if (imported_.count(name)) return false;
  std::vector<std::string> dirs;
  std::string folder = FolderOf(at->file);
  if (!folder.empty()) dirs.push_back(folder);
  dirs.insert(dirs.end(), S_.search_path.begin(), S_.search_path.end());
  std::string text;
  std::string path;
  bool found = false;
  for (const std::string& dir : dirs) {
    path = dir + "/" + name + ".sx";
    std::string why;
    if (ReadSourceFile(path, &text, &why)) {
      found = true;
      break;
    }
  }
  if (!found && S_.module_loader && S_.module_loader(name, &text)) {
    path = std::string(kLibraryPrefix) + name + ".sx";
    found = true;
  }
  if (!found) {
    std::string looked;
    for (const std::string& dir : dirs) looked += dir + "/, ";
    ThrowError(S_, "import: no module named " + BriefText(name) + " (looked in " + looked +
                       "and the built-in library)");
  }
  imported_.insert(name);
  *forms = ParseSource(S_, text, path);
  *file = S_.heap.MakeString(path);
  return true;
}

Value Machine::EvalForms(Value x) {
  if (IsString(x)) return ParseSource(S_, StringView(x), "<eval>");
  return S_.heap.Cons(x, Value::EmptyList());
}
}  // namespace sx::interp
