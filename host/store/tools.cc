#include "host/store/tools.h"

#include <unistd.h>

#include <algorithm>
#include <memory>

#include "host/store/coding.h"
#include "host/store/log_format.h"
#include "host/store/log_record.h"
#include "host/store/store.h"

namespace sx::store {
namespace {

constexpr char kUsage[] =
    "usage: sx store stats DIR\n"
    "       sx store dump DIR [--json]\n"
    "       sx store verify DIR\n"
    "       sx store compact DIR\n"
    "exit: 0 ok, 1 damaged / not a store / failed, 2 bad usage,\n"
    "      3 verify found a torn tail only, 4 a running writer holds the store\n";

// JSON string body: valid UTF-8 kept, control characters and bytes that are
// not UTF-8 written as \u00NN.
std::string JsonString(std::string_view s) {
  std::string escaped = EscapeBytes(s, 0, /*utf8=*/true);
  std::string out = "\"";
  for (size_t i = 0; i < escaped.size(); ++i) {
    if (escaped[i] == '\\' && escaped[i + 1] == 'x') {
      out += "\\u00";
      out += escaped.substr(i + 2, 2);
      i += 3;
    } else if (escaped[i] == '\\') {  // a two-character escape: copy both
      out += escaped.substr(i, 2);
      ++i;
    } else {
      out += escaped[i];
    }
  }
  return out + "\"";
}

std::string Text(std::string_view s) {
  std::string out = "\"";
  out += EscapeBytes(s, 0, /*utf8=*/true);
  out += '"';
  return out;
}

const char* RecordTypeName(log::RecordType type) {
  switch (type) {
    case log::kBatchRecord:
      return "batch";
    case log::kCompactionRecord:
      return "compaction";
    case log::kSegmentEndRecord:
      return "segment-end";
    case log::kRetiredRecord:
      return "retired";
    case log::kBlobRecord:
      return "blob";
    case log::kExtentRecord:
      return "extent";
    default:
      return "unknown";
  }
}

const char* OpName(log::OpTag tag) {
  switch (tag) {
    case log::kAppendOp:
      return "append";
    case log::kKvPutOp:
      return "kv-put";
    case log::kKvDeleteOp:
      return "kv-delete";
    case log::kTruncateOp:
      return "truncate";
    case log::kStreamMetaOp:
      return "stream-meta";
  }
  return "unknown";
}

std::string OpText(const OpView& op, bool json) {
  std::string out;
  auto field = [&](const char* name, const std::string& value) {
    if (json) {
      out += std::string(",\"") + name + "\":" + value;
    } else {
      out += std::string(" ") + name + "=" + value;
    }
  };
  bool stream =
      op.tag == log::kAppendOp || op.tag == log::kTruncateOp || op.tag == log::kStreamMetaOp;
  out = json ? std::string("{\"op\":\"") + OpName(op.tag) + "\"" : OpName(op.tag);
  field(stream ? "stream" : "key", json ? JsonString(op.name) : Text(op.name));
  switch (op.tag) {
    case log::kAppendOp:
      field("seq", std::to_string(op.seq));
      field("payload", json ? JsonString(op.value) : Text(op.value));
      break;
    case log::kKvPutOp:
      field("value", json ? JsonString(op.value) : Text(op.value));
      break;
    case log::kTruncateOp:
      field("through", std::to_string(op.seq));
      break;
    case log::kStreamMetaOp:
      field("hwm", std::to_string(op.seq));
      field("truncated", std::to_string(op.seq2));
      break;
    default:
      break;
  }
  if (json) out += "}";
  return out;
}

// The fields of a retired or blob record: "segments=1-3,5" and
// "cid=... size=12" as text; as JSON members to add to the record's object.
Status RecordFields(const RecordView& rec, bool json, std::string* out) {
  if (rec.type == log::kRetiredRecord) {
    std::vector<SegmentRange> ranges;
    if (!DecodeRetired(rec.body, &ranges)) return Status::Corruption("malformed retired record");
    out->assign(json ? ",\"segments\":[" : "segments=");
    for (size_t i = 0; i < ranges.size(); ++i) {
      std::string first = std::to_string(ranges[i].first);
      std::string last = std::to_string(ranges[i].last);
      if (i > 0) out->push_back(',');
      if (json) {
        out->append("[").append(first).append(",").append(last).append("]");
      } else {
        out->append(first);
        if (last != first) out->append("-").append(last);
      }
    }
    if (json) out->push_back(']');
    return Status::OK();
  }
  if (rec.type == log::kExtentRecord) {
    out->assign(json ? ",\"file_size\":" : "file-size=")
        .append(std::to_string(DecodeExtent(rec.body)));
    return Status::OK();
  }
  uint64_t size;
  std::string_view cid;
  if (!DecodeBlob(rec.body, &size, &cid)) return Status::Corruption("malformed blob record");
  if (json) {
    out->assign(",\"cid\":").append(JsonString(cid)).append(",\"size\":");
  } else {
    out->assign("cid=").append(Text(cid)).append(" size=");
  }
  out->append(std::to_string(size));
  return Status::OK();
}

// Exit codes (docs/storage-format.md, "Tools and their exit codes").
constexpr int kExitProblem = 1;
constexpr int kExitTornTail = 3;
constexpr int kExitInUse = 4;

int OpenForTool(Env* env, const std::string& dir, const char* tool, bool writable,
                std::ostream& err, std::unique_ptr<Store>* store, size_t* damage = nullptr,
                std::vector<std::string>* torn = nullptr);

int Dump(Env* env, const std::string& dir, bool json, std::ostream& out, std::ostream& err) {
  // Opened first, and held (with the writer's lock) while the files are
  // read, so that a directory that is not a store, a damaged store or one a
  // writer is changing is said to be so.
  std::unique_ptr<Store> store;
  size_t damage = 0;
  if (int rc = OpenForTool(env, dir, "dump", false, err, &store, &damage)) return rc;
  if (damage > 0) {
    // Dump what is there all the same: it is what an operator needs.
    err << "store dump: the store is damaged; dumping what is there\n";
  }
  std::vector<std::string> names;
  Status s = env->ListDir(dir, &names);
  if (!s.ok()) {
    err << "store dump: " << s.ToString() << "\n";
    return 1;
  }
  std::vector<uint32_t> numbers;
  for (const std::string& name : names) {
    uint32_t n;
    if (ParseSegmentFileName(name, &n)) numbers.push_back(n);
  }
  std::sort(numbers.begin(), numbers.end());
  int rc = damage > 0 ? 1 : 0;
  std::string image;
  for (uint32_t number : numbers) {
    std::string file = SegmentFileName(number);
    s = ReadFileToString(env, dir + "/" + file, &image);
    if (!s.ok()) {
      err << "store dump: " << s.ToString() << "\n";
      rc = 1;
      continue;
    }
    if (!json) out << "segment " << file << " (" << image.size() << " bytes)\n";
    SegmentScan scan;
    s = ScanSegment(
        image, number,
        [&](const RecordView& rec) -> Status {
          std::vector<std::string> ops;
          std::string fields;  // of a record that holds no ops
          Status body;
          if (rec.type == log::kBatchRecord || rec.type == log::kCompactionRecord) {
            OpReader reader(rec.body);
            OpView op;
            while (reader.Next(&op)) ops.push_back(OpText(op, json));
            body = reader.status();
          } else if (rec.type != log::kSegmentEndRecord) {
            body = RecordFields(rec, json, &fields);
          }
          if (!body.ok()) {
            err << file << " offset " << rec.offset << ": " << body.message() << "\n";
            rc = 1;
          }
          if (json) {
            out << "{\"segment\":\"" << file << "\",\"offset\":" << rec.offset << ",\"type\":\""
                << RecordTypeName(rec.type)
                << "\",\"bytes\":" << rec.body.size() + log::kRecordHeaderSize << fields
                << ",\"ops\":[";
            for (size_t i = 0; i < ops.size(); ++i) out << (i ? "," : "") << ops[i];
            out << "]}\n";
          } else {
            out << "  @" << rec.offset << " " << RecordTypeName(rec.type) << " ("
                << rec.body.size() + log::kRecordHeaderSize << " bytes)\n";
            if (!fields.empty()) out << "    " << fields << "\n";
            for (const std::string& op : ops) out << "    " << op << "\n";
          }
          return Status::OK();
        },
        &scan);
    if (scan.end == SegmentScan::End::kCorrupt) {
      err << file << " offset " << scan.bad_offset << ": corruption: " << scan.reason << "\n";
      rc = 1;
    } else if (scan.end == SegmentScan::End::kTornTail) {
      err << file << " offset " << scan.valid_end << ": torn tail: " << scan.reason << "\n";
    }
  }
  return rc;
}

// Opens the store for a tool: never creates one, and takes the writer's
// lock so that no writer changes the store under the tool. Salvage (for
// stats and verify) opens a damaged store anyway so that every problem is
// listed; they are counted in *damage and *torn. Returns the exit code to
// give up with, or 0.
int OpenForTool(Env* env, const std::string& dir, const char* tool, bool writable,
                std::ostream& err, std::unique_ptr<Store>* store, size_t* damage,
                std::vector<std::string>* torn) {
  Options options;
  options.env = env;
  options.create_if_missing = false;
  options.read_only = !writable;
  options.lock_read_only = true;
  options.salvage = !writable;
  options.on_recovery_problem = [&](const RecoveryNote& note) {
    if (note.torn_tail) {
      if (torn)
        torn->push_back(note.file + " offset " + std::to_string(note.offset) +
                        ": torn tail: " + note.what);
    } else if (damage) {
      ++*damage;
      err << "store " << tool << ": " << note.ToString() << "\n";
    }
  };
  Status s = Store::Open(options, dir, store);
  if (s.IsLocked()) {
    err << "store " << tool << ": the store is in use: " << s.message()
        << " (stop that process first; persist/stats reports on a running store)\n";
    return kExitInUse;
  }
  if (!s.ok()) {
    err << "store " << tool << ": " << s.ToString() << "\n";
    return kExitProblem;
  }
  return 0;
}

int Stats(Env* env, const std::string& dir, std::ostream& out, std::ostream& err) {
  std::unique_ptr<Store> store;
  size_t damage = 0;
  std::vector<std::string> torn;
  if (int rc = OpenForTool(env, dir, "stats", false, err, &store, &damage, &torn)) return rc;
  Store::Stats st = store->GetStats();
  out << "format version: " << log::kFormatVersion << "\n"
      << "streams: " << st.streams << "\n"
      << "events live: " << st.events_live << "\n"
      << "kv keys: " << st.kv_keys << "\n"
      << "blobs: " << st.blobs << "\n"
      << "segments: " << st.segments << "\n"
      << "bytes on disk: " << st.bytes_on_disk << "\n"
      << "bytes used: " << st.bytes_used << "\n"
      << "bytes live (estimate): " << st.bytes_live << "\n"
      << "index bytes (estimate): " << st.index_bytes << "\n";
  for (const std::string& t : torn) {
    err << "store stats: " << t << " (cut off when the store is next opened for writing)\n";
  }
  if (damage > 0) {
    err << "store stats: the store is damaged (" << damage
        << " problem(s)); the figures above leave out what is past the damage; run sx store "
           "verify\n";
    return kExitProblem;
  }
  return 0;
}

int Verify(Env* env, const std::string& dir, std::ostream& out, std::ostream& err) {
  std::unique_ptr<Store> store;
  size_t damage = 0;
  std::vector<std::string> torn;
  if (int rc = OpenForTool(env, dir, "verify", false, err, &store, &damage, &torn)) return rc;
  Status s = store->Verify([&](const std::string& what) { out << what << "\n"; });
  Store::Stats st = store->GetStats();
  if (!s.ok() || damage > 0) {
    out << "FAILED: " << (s.ok() ? "recovery problems" : s.message()) << "\n";
    return kExitProblem;
  }
  if (!torn.empty()) {
    out << "TORN TAIL: the store is consistent, but opening it for writing cuts off "
        << st.recovered_torn_bytes << " bytes of incomplete record (a write that was never "
        << "acknowledged, if the writer used sync always)\n";
    return kExitTornTail;
  }
  out << "ok: " << st.segments << " segments, " << st.streams << " streams, " << st.events_live
      << " events, " << st.kv_keys << " keys, " << st.blobs << " blobs\n";
  return 0;
}

int Compact(Env* env, const std::string& dir, std::ostream& out, std::ostream& err) {
  std::unique_ptr<Store> store;
  if (int rc = OpenForTool(env, dir, "compact", true, err, &store)) return rc;
  uint64_t before = store->GetStats().bytes_on_disk;
  bool tty = ::isatty(STDERR_FILENO) == 1;
  Status s = store->Compact([&](size_t done, size_t total) {
    if (tty) err << "\rcompacting segment " << done << "/" << total << std::flush;
  });
  if (tty) err << "\n";
  if (!s.ok()) {
    err << "store compact: " << s.ToString() << "\n";
    return kExitProblem;
  }
  uint64_t after = store->GetStats().bytes_on_disk;
  out << "compacted: " << before << " -> " << after << " bytes on disk\n";
  return 0;
}

}  // namespace

int RunStoreTool(const std::vector<std::string>& args_in, std::ostream& out, std::ostream& err,
                 Env* env) {
  std::vector<std::string> args = args_in;
  if (!args.empty() && args[0] == "store") args.erase(args.begin());
  if (env == nullptr) env = Env::Default();
  if (args.size() < 2) {
    err << kUsage;
    return 2;
  }
  const std::string& cmd = args[0];
  const std::string& dir = args[1];
  if (cmd == "dump") {
    bool json = false;
    for (size_t i = 2; i < args.size(); ++i) {
      if (args[i] != "--json") {
        err << kUsage;
        return 2;
      }
      json = true;
    }
    return Dump(env, dir, json, out, err);
  }
  if (args.size() != 2) {
    err << kUsage;
    return 2;
  }
  if (cmd == "stats") return Stats(env, dir, out, err);
  if (cmd == "verify") return Verify(env, dir, out, err);
  if (cmd == "compact") return Compact(env, dir, out, err);
  err << kUsage;
  return 2;
}

}  // namespace sx::store
