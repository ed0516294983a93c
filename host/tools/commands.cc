// commands.cc — `sx store export`, `import` and `tail`; every other
// `sx store` subcommand is host/store/tools.cc's.
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>

#include "host/backend/open.h"
#include "host/store/tools.h"
#include "host/tools/export.h"
#include "host/tools/store_tail.h"

namespace sx::tools {
namespace {

constexpr char kExportHelp[] =
    "usage: sx store export DIR|URL [--stream S]... [--kv]\n"
    "Writes the live events (what persist/read returns) and the kv pairs of the store\n"
    "DIR (or the PostgreSQL database URL names) to standard output as JSON Lines\n"
    "(docs/storage-format.md, \"Export format\").\n"
    "  --stream S   only stream S (repeatable); with --stream, kv pairs only with --kv\n"
    "  --kv         the kv pairs (alone: only them)\n"
    "The store is read as a reader reads it: a running writer may go on.\n"
    "exit: 0 ok, 1 failed, 2 bad usage\n";

constexpr char kImportHelp[] =
    "usage: sx store import DIR|URL FILE|- [--json]\n"
    "       sx store import DIR --from rose-ash SRC [--json]\n"
    "Reads an export (FILE, or - for standard input) into the store DIR, created if\n"
    "missing, or into the PostgreSQL database URL names. A seq at or below its stream's last seq "
    "is refused, naming the line;\n"
    "what came before it stays imported. --from rose-ash reads the data directory SRC\n"
    "of the reference host (streams/<hex>.log and .seq, kv/<hex>, blobs/).\n"
    "exit: 0 ok, 1 failed, 2 bad usage\n";

int Usage(const char* help, std::ostream& err) {
  err << help;
  return 2;
}

bool IsHelp(const std::string& a) { return a == "--help" || a == "-h"; }

// `sx store stats URL [--json]`: the counters of a PostgreSQL store.
int StatsOfUrl(const std::string& url, bool json, std::ostream& out, std::ostream& err) {
  backend::OpenOptions options;
  options.read_only = true;
  std::unique_ptr<backend::Backend> b;
  backend::Stats stats;
  backend::Status s = backend::OpenBackend(url, options, &b);
  if (s.ok()) s = b->GetStats(&stats);
  if (!s.ok()) {
    err << "store stats: " << s.ToString() << "\n";
    return 1;
  }
  if (json) out << "{\"engine\":\"" << b->kind() << "\"";
  if (!json) out << "engine: " << b->kind() << "\n";
  for (const auto& [name, n] : stats) {
    if (json) {
      out << ",\"" << name << "\":" << n;
    } else {
      out << name << ": " << n << "\n";
    }
  }
  if (json) out << "}\n";
  return 0;
}

}  // namespace

int RunStoreCommand(const std::vector<std::string>& args_in, std::ostream& out, std::ostream& err) {
  std::vector<std::string> args = args_in;
  if (!args.empty() && args[0] == "store") args.erase(args.begin());
  bool tty = ::isatty(STDERR_FILENO) == 1;
  if (args.size() >= 2 && backend::IsPostgresUrl(args[1]) && args[0] != "export" &&
      args[0] != "import" && args[0] != "tail") {
    if (args[0] == "stats") {
      bool json = std::find(args.begin(), args.end(), "--json") != args.end();
      return StatsOfUrl(args[1], json, out, err);
    }
    err << "store " << args[0]
        << ": works on a store directory; a PostgreSQL store is kept by the server (its "
           "backups, its checks): sx store stats, tail, export and import take its URL\n";
    return 2;
  }
  if (!args.empty() && args[0] == "tail") {
    return StoreTail({args.begin() + 1, args.end()}, out, err);
  }
  if (!args.empty() && args[0] == "export") {
    for (const std::string& a : args) {
      if (IsHelp(a)) {
        out << kExportHelp;
        return 0;
      }
    }
    if (args.size() < 2 || args[1].starts_with("-")) return Usage(kExportHelp, err);
    ExportOptions options;
    options.progress = tty;
    for (size_t i = 2; i < args.size(); ++i) {
      if (args[i] == "--stream" && i + 1 < args.size()) {
        options.streams.push_back(args[++i]);
      } else if (args[i] == "--kv") {
        options.kv = true;
      } else if (args[i] == "--json") {
        // The output is JSON already.
      } else {
        return Usage(kExportHelp, err);
      }
    }
    options.events = !(options.kv && options.streams.empty());  // --kv alone: only kv
    return ExportStore(args[1], options, out, err);
  }
  if (!args.empty() && args[0] == "import") {
    for (const std::string& a : args) {
      if (IsHelp(a)) {
        out << kImportHelp;
        return 0;
      }
    }
    bool json = false;
    std::vector<std::string> words;
    for (size_t i = 1; i < args.size(); ++i) {
      if (args[i] == "--json") {
        json = true;
      } else {
        words.push_back(args[i]);
      }
    }
    ImportReport report;
    int rc;
    if (words.size() == 3 && words[1] == "--from") {
      return Usage(kImportHelp, err);
    } else if (words.size() == 4 && words[1] == "--from") {
      if (words[2] != "rose-ash") {
        err << "store import: --from: unknown source \"" << words[2] << "\" (known: rose-ash)\n";
        return 2;
      }
      rc = ImportRoseAsh(words[0], words[3], tty, &report, err);
    } else if (words.size() == 2 && (words[1] == "-" || !words[1].starts_with("-"))) {
      if (words[1] == "-") {
        rc = ImportStore(words[0], std::cin, tty, &report, err);
      } else {
        std::ifstream file(words[1], std::ios::binary);
        if (!file) {
          err << "store import: cannot read " << words[1] << "\n";
          return 1;
        }
        rc = ImportStore(words[0], file, tty, &report, err);
      }
    } else {
      return Usage(kImportHelp, err);
    }
    if (json) {
      out << "{\"ok\":" << (rc == 0 ? "true" : "false") << ",\"streams\":" << report.streams
          << ",\"events\":" << report.events << ",\"kv\":" << report.kv
          << ",\"blobs\":" << report.blobs << "}\n";
    } else {
      out << (rc == 0 ? "imported: " : "imported before the failure: ") << report.events
          << " events, " << report.kv << " kv pairs, " << report.blobs << " blobs; the store has "
          << report.streams << " streams\n";
    }
    return rc;
  }
  return store::RunStoreTool(args, out, err);
}

}  // namespace sx::tools
