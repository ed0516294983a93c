#include "host/store/tools.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>

#include "host/store/backup.h"
#include "host/store/coding.h"
#include "host/store/log_format.h"
#include "host/store/log_record.h"
#include "host/store/progress.h"
#include "host/store/rose_ash.h"
#include "host/store/store.h"

namespace sx::store {
namespace {

constexpr char kExitCodes[] =
    "exit: 0 ok, 1 damaged / not a store / failed, 2 bad usage,\n"
    "      3 verify found a torn tail only, 4 a running writer holds the store\n";

struct Flags {
  bool json = false;
  bool progress = false;  // a progress line on stderr (a terminal)
  bool human = false;     // sizes as KiB, MiB... (stdout a terminal)
};

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
  if (LooksLikeRoseAshDir(env, dir)) {
    err << "store " << tool << ": " << RoseAshHint(dir) << "\n";
    return kExitProblem;
  }
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

// Sizes: bytes when piped, "64.0 MiB" on a terminal.
std::string Size(uint64_t n, bool human) {
  if (!human || n < 1024) return std::to_string(n) + (human ? " B" : "");
  const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(n);
  int u = -1;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f %s", v, units[u]);
  return buf;
}

struct StreamLine {
  std::string name;
  uint64_t events = 0, first = 0, last = 0, bytes = 0;
};

// Per stream: events, first and last seq, payload bytes (read through the
// index, a chunk at a time).
Status StreamLines(Store* store, std::vector<StreamLine>* lines) {
  std::vector<Event> events;
  for (const std::string& name : store->Streams()) {
    StreamLine l;
    l.name = name;
    l.first = store->FirstSeq(name);
    l.last = store->LastSeq(name);
    for (uint64_t from = l.first; from <= l.last;) {
      events.clear();
      Status s = store->Read(name, from, 4096, &events);
      if (!s.ok()) return s;
      if (events.empty()) break;
      for (const Event& e : events) l.bytes += e.payload.size();
      l.events += events.size();
      from = events.back().seq + 1;
    }
    if (l.events == 0) l.first = 0;
    lines->push_back(std::move(l));
  }
  return Status::OK();
}

int Stats(Env* env, const std::string& dir, const Flags& f, std::ostream& out, std::ostream& err) {
  std::unique_ptr<Store> store;
  size_t damage = 0;
  std::vector<std::string> torn;
  if (int rc = OpenForTool(env, dir, "stats", false, err, &store, &damage, &torn)) return rc;
  Store::Stats st = store->GetStats();
  std::vector<StreamLine> lines;
  Status s = StreamLines(store.get(), &lines);
  if (!s.ok()) {
    err << "store stats: " << s.ToString() << "\n";
    return kExitProblem;
  }
  if (f.json) {
    out << "{\"format_version\":" << log::kFormatVersion << ",\"streams\":" << st.streams
        << ",\"events_live\":" << st.events_live << ",\"kv_keys\":" << st.kv_keys
        << ",\"blobs\":" << st.blobs << ",\"segments\":" << st.segments
        << ",\"bytes_on_disk\":" << st.bytes_on_disk << ",\"bytes_used\":" << st.bytes_used
        << ",\"bytes_live\":" << st.bytes_live << ",\"index_bytes\":" << st.index_bytes
        << ",\"damaged\":" << (damage > 0 ? "true" : "false") << ",\"per_stream\":[";
    for (size_t i = 0; i < lines.size(); ++i) {
      const StreamLine& l = lines[i];
      out << (i ? "," : "") << "{\"stream\":" << JsonString(l.name) << ",\"events\":" << l.events
          << ",\"first_seq\":" << l.first << ",\"last_seq\":" << l.last << ",\"bytes\":" << l.bytes
          << "}";
    }
    out << "]}\n";
  } else {
    out << "format version: " << log::kFormatVersion << "\n"
        << "streams: " << st.streams << "\n"
        << "events live: " << st.events_live << "\n"
        << "kv keys: " << st.kv_keys << "\n"
        << "blobs: " << st.blobs << "\n"
        << "segments: " << st.segments << "\n"
        << "bytes on disk: " << Size(st.bytes_on_disk, f.human) << "\n"
        << "bytes used: " << Size(st.bytes_used, f.human) << "\n"
        << "bytes live (estimate): " << Size(st.bytes_live, f.human) << "\n"
        << "index bytes (estimate): " << Size(st.index_bytes, f.human) << "\n";
    for (const StreamLine& l : lines) {
      out << "stream " << Text(l.name) << ": " << l.events << " events";
      if (l.events > 0) out << ", seq " << l.first << "-" << l.last;
      out << ", last seq " << l.last << ", " << Size(l.bytes, f.human) << (f.human ? "" : " bytes")
          << "\n";
    }
  }
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

int Verify(Env* env, const std::string& dir, const Flags& f, std::ostream& out, std::ostream& err) {
  std::unique_ptr<Store> store;
  size_t damage = 0;
  std::vector<std::string> torn;
  if (int rc = OpenForTool(env, dir, "verify", false, err, &store, &damage, &torn)) return rc;
  Progress progress(err, "verify: checking", 0, f.progress);
  progress.Update(0);
  std::vector<std::string> problems;
  Status s = store->Verify([&](const std::string& what) {
    problems.push_back(what);
    if (!f.json) out << what << "\n";
  });
  progress.Done();
  Store::Stats st = store->GetStats();
  const char* result = !s.ok() || damage > 0 ? "failed" : !torn.empty() ? "torn-tail" : "ok";
  if (f.json) {
    out << "{\"result\":\"" << result << "\",\"problems\":[";
    for (size_t i = 0; i < problems.size(); ++i) out << (i ? "," : "") << JsonString(problems[i]);
    out << "],\"torn\":[";
    for (size_t i = 0; i < torn.size(); ++i) out << (i ? "," : "") << JsonString(torn[i]);
    out << "],\"segments\":" << st.segments << ",\"streams\":" << st.streams
        << ",\"events\":" << st.events_live << ",\"kv_keys\":" << st.kv_keys
        << ",\"blobs\":" << st.blobs << "}\n";
  }
  if (!s.ok() || damage > 0) {
    if (!f.json) out << "FAILED: " << (s.ok() ? "recovery problems" : s.message()) << "\n";
    return kExitProblem;
  }
  if (!torn.empty()) {
    if (!f.json) {
      out << "TORN TAIL: the store is consistent, but opening it for writing cuts off "
          << st.recovered_torn_bytes << " bytes of incomplete record (a write that was never "
          << "acknowledged, if the writer used sync always)\n";
    }
    return kExitTornTail;
  }
  if (!f.json) {
    out << "ok: " << st.segments << " segments, " << st.streams << " streams, " << st.events_live
        << " events, " << st.kv_keys << " keys, " << st.blobs << " blobs\n";
  }
  return 0;
}

// Append ops in the log, live or dead.
uint64_t EventRecords(Env* env, const std::string& dir) {
  std::vector<std::string> names;
  if (!env->ListDir(dir, &names).ok()) return 0;
  uint64_t n = 0;
  std::string image;
  for (const std::string& name : names) {
    uint32_t number;
    if (!ParseSegmentFileName(name, &number) ||
        !ReadFileToString(env, dir + "/" + name, &image).ok())
      continue;
    SegmentScan scan;
    ScanSegment(
        image, number,
        [&](const RecordView& rec) {
          if (rec.type == log::kBatchRecord || rec.type == log::kCompactionRecord) {
            OpReader reader(rec.body);
            OpView op;
            while (reader.Next(&op)) n += op.tag == log::kAppendOp;
          }
          return Status::OK();
        },
        &scan)
        .IgnoreError();
  }
  return n;
}

int Compact(Env* env, const std::string& dir, const Flags& f, std::ostream& out,
            std::ostream& err) {
  std::unique_ptr<Store> store;
  if (int rc = OpenForTool(env, dir, "compact", true, err, &store)) return rc;
  Store::Stats before = store->GetStats();
  uint64_t records_before = EventRecords(env, dir);
  Progress progress(err, "compact: segment", 0, f.progress);
  Status s = store->Compact([&](size_t done, size_t total) {
    progress.set_total(total);
    progress.Update(done);
  });
  progress.Done();
  if (!s.ok()) {
    err << "store compact: " << s.ToString() << "\n";
    return kExitProblem;
  }
  Store::Stats after = store->GetStats();
  uint64_t records_after = EventRecords(env, dir);
  uint64_t dropped = records_before > records_after ? records_before - records_after : 0;
  if (f.json) {
    out << "{\"segments_before\":" << before.segments << ",\"segments_after\":" << after.segments
        << ",\"event_records_before\":" << records_before
        << ",\"event_records_after\":" << records_after << ",\"events_dropped\":" << dropped
        << ",\"events_live\":" << after.events_live
        << ",\"bytes_used_before\":" << before.bytes_used
        << ",\"bytes_used_after\":" << after.bytes_used
        << ",\"bytes_on_disk_before\":" << before.bytes_on_disk
        << ",\"bytes_on_disk_after\":" << after.bytes_on_disk << "}\n";
  } else {
    out << "compacted: " << dropped << " dead event records dropped (" << after.events_live
        << " events live); segments " << before.segments << " -> " << after.segments
        << "; bytes used " << Size(before.bytes_used, f.human) << " -> "
        << Size(after.bytes_used, f.human) << "; bytes on disk "
        << Size(before.bytes_on_disk, f.human) << " -> " << Size(after.bytes_on_disk, f.human)
        << "\n";
  }
  return 0;
}

int Backup(Env* env, const std::string& dir, const std::string& to, const Flags& f,
           std::ostream& out, std::ostream& err) {
  BackupReport r;
  Progress progress(err, "backup: segment", 0, f.progress);
  Status s = BackupStore(env, dir, to, &r, [&](uint64_t done, uint64_t total) {
    progress.set_total(total);
    progress.Update(done);
  });
  progress.Done();
  if (f.json) {
    out << "{\"ok\":" << (s.ok() ? "true" : "false") << ",\"segments_linked\":" << r.segments_linked
        << ",\"segments_copied\":" << r.segments_copied << ",\"bytes_copied\":" << r.bytes_copied
        << ",\"blobs\":" << r.blobs << ",\"attempts\":" << r.attempts
        << ",\"error\":" << JsonString(s.ok() ? "" : s.ToString()) << "}\n";
  }
  if (!s.ok()) {
    err << "store backup: " << s.ToString() << "\n";
    for (const std::string& p : r.verify_problems) err << "  " << p << "\n";
    return kExitProblem;
  }
  if (!f.json) {
    out << "backup: " << to << " verified: " << r.segments_linked << " segments linked, "
        << r.segments_copied << " copied (" << Size(r.bytes_copied, f.human) << "), " << r.blobs
        << " blobs\n";
  }
  return 0;
}

int Salvage(Env* env, const std::string& dir, const std::string& to, const Flags& f,
            std::ostream& out, std::ostream& err) {
  SalvageReport r;
  Progress progress(err, "salvage: segment", 0, f.progress);
  Status s = SalvageStore(env, dir, to, &r, [&](uint64_t done, uint64_t total) {
    progress.set_total(total);
    progress.Update(done);
  });
  progress.Done();
  if (f.json) {
    out << "{\"ok\":" << (s.ok() ? "true" : "false") << ",\"records_kept\":" << r.records_kept
        << ",\"events\":" << r.events << ",\"kv\":" << r.kv << ",\"blobs\":" << r.blobs
        << ",\"bytes_lost\":" << r.bytes_lost << ",\"lost\":[";
    for (size_t i = 0; i < r.lost.size(); ++i) out << (i ? "," : "") << JsonString(r.lost[i]);
    out << "],\"error\":" << JsonString(s.ok() ? "" : s.ToString()) << "}\n";
  } else {
    for (const std::string& l : r.lost) out << "lost: " << l << "\n";
    if (s.ok()) {
      out << "salvaged into " << to << ": " << r.records_kept << " records kept, " << r.events
          << " events, " << r.kv << " kv pairs, " << r.blobs << " blobs; "
          << Size(r.bytes_lost, f.human) << (f.human ? "" : " bytes") << " of damage skipped\n";
    }
  }
  if (!s.ok()) {
    err << "store salvage: " << s.ToString() << "\n";
    return kExitProblem;
  }
  return 0;
}

struct Command {
  const char* name;
  const char* usage;
  const char* help;
  bool takes_out;  // a second directory
};

constexpr Command kCommands[] = {
    {"stats", "sx store stats DIR [--json]",
     "Counts and sizes, and a line per stream (events, first and last seq, payload bytes).\n"
     "Sizes are human on a terminal, bytes otherwise.\n",
     false},
    {"dump", "sx store dump DIR [--json]", "Every record of every segment, in log order.\n", false},
    {"verify", "sx store verify DIR [--json]",
     "Checksums, framing, index invariants and blob hashes; each problem with file and offset.\n"
     "exit 3: only a torn tail.\n",
     false},
    {"compact", "sx store compact DIR [--json]",
     "Reclaims dead space; reports the dead event records dropped and bytes before and after.\n",
     false},
    {"backup", "sx store backup DIR OUT [--json]",
     "A consistent copy of DIR in the new directory OUT, a running writer or not (no lock taken):\n"
     "sealed segments hard-linked, the committed prefix of the newest copied, the marker and\n"
     "the blobs. OUT is then opened and verified.\n",
     true},
    {"salvage", "sx store salvage DIR OUT [--json]",
     "Copies every record of a damaged store DIR that still checks out into the new store OUT\n"
     "(records before and after damage alike) and reports what it could not save.\n",
     true},
};

void Usage(std::ostream& err) {
  err << "usage:";
  for (const Command& c : kCommands) err << (&c == kCommands ? " " : "       ") << c.usage << "\n";
  err << "       sx store export DIR|URL [--stream S]... [--kv]\n"
      << "       sx store import DIR|URL FILE|-  |  sx store import DIR --from rose-ash SRC\n"
      << "       sx store tail DIR|URL STREAM [--from N] [--follow] [--json]\n"
      << "       (URL: a PostgreSQL store, postgresql://...; `stats URL` too)\n"
      << "       sx store CMD --help\n"
      << kExitCodes;
}

}  // namespace

int RunStoreTool(const std::vector<std::string>& args_in, std::ostream& out, std::ostream& err,
                 Env* env) {
  std::vector<std::string> args = args_in;
  if (!args.empty() && args[0] == "store") args.erase(args.begin());
  bool real = env == nullptr;
  if (env == nullptr) env = Env::Default();
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    Usage(args.empty() ? err : out);
    return args.empty() ? 2 : 0;
  }
  const Command* cmd = nullptr;
  for (const Command& c : kCommands) {
    if (args[0] == c.name) cmd = &c;
  }
  if (cmd == nullptr) {
    Usage(err);
    return 2;
  }
  Flags f;
  std::vector<std::string> words;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      out << "usage: " << cmd->usage << "\n" << cmd->help << kExitCodes;
      return 0;
    } else if (args[i] == "--json") {
      f.json = true;
    } else if (args[i].size() > 1 && args[i][0] == '-') {
      err << "usage: " << cmd->usage << "\n";
      return 2;
    } else {
      words.push_back(args[i]);
    }
  }
  if (words.size() != (cmd->takes_out ? 2u : 1u)) {
    err << "usage: " << cmd->usage << "\n";
    return 2;
  }
  // Progress and human sizes only for a person at a terminal.
  f.progress = real && ::isatty(STDERR_FILENO) == 1;
  f.human = real && !f.json && &out == &std::cout && ::isatty(STDOUT_FILENO) == 1;
  const std::string& dir = words[0];
  std::string name = cmd->name;
  if (name == "dump") return Dump(env, dir, f.json, out, err);
  if (name == "stats") return Stats(env, dir, f, out, err);
  if (name == "verify") return Verify(env, dir, f, out, err);
  if (name == "compact") return Compact(env, dir, f, out, err);
  if (name == "backup") return Backup(env, dir, words[1], f, out, err);
  return Salvage(env, dir, words[1], f, out, err);
}

}  // namespace sx::store
