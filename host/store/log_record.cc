#include "host/store/log_record.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "host/store/coding.h"
#include "host/store/crc32c.h"

namespace sx::store {

using namespace log;  // NOLINT: the format constants

std::string SegmentFileName(uint32_t number) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%010u%s", number, kSegmentSuffix);
  return buf;
}

bool ParseSegmentFileName(std::string_view name, uint32_t* number) {
  std::string_view suffix = kSegmentSuffix;
  if (name.size() != 10 + suffix.size() || name.substr(10) != suffix) return false;
  uint64_t n = 0;
  for (char c : name.substr(0, 10)) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n == 0 || n > UINT32_MAX) return false;
  *number = static_cast<uint32_t>(n);
  return true;
}

std::string EncodeSegmentHeader(uint32_t number, uint32_t capacity, uint32_t version) {
  std::string h(kSegmentMagic, sizeof(kSegmentMagic));
  PutFixed32(&h, version);
  PutFixed32(&h, 0);  // flags
  PutFixed64(&h, number);
  PutFixed32(&h, capacity);
  PutFixed32(&h, crc32c::Value(h.data(), h.size()));
  return h;
}

std::string EncodeStoreMarker(const StoreMarker& marker) {
  std::string m(kMarkerMagic, sizeof(kMarkerMagic));
  PutFixed32(&m, marker.version);
  PutFixed32(&m, 0);  // flags
  std::string id = marker.id;
  id.resize(kStoreIdSize, '\0');
  m += id;
  PutFixed32(&m, marker.newest_segment);
  PutFixed32(&m, marker.clean_end);
  PutFixed32(&m, 0);
  PutFixed32(&m, crc32c::Value(m.data(), m.size()));
  return m;
}

Status DecodeStoreMarker(std::string_view data, StoreMarker* marker) {
  auto bad = [](const std::string& what) {
    return Status::Corruption(std::string("store marker ") + kMarkerFileName + ": " + what);
  };
  if (data.size() != kMarkerSize) {
    return bad(std::to_string(data.size()) + " bytes, not " + std::to_string(kMarkerSize));
  }
  const char* p = data.data();
  if (std::memcmp(p, kMarkerMagic, sizeof(kMarkerMagic)) != 0) return bad("bad magic");
  if (crc32c::Value(p, kMarkerSize - 4) != DecodeFixed32(p + kMarkerSize - 4)) {
    return bad("bad checksum");
  }
  uint32_t version = DecodeFixed32(p + 8);
  if (version < kFirstMarkedVersion || version > kFormatVersion) {
    return bad("format version " + std::to_string(version) + " is not one this code reads");
  }
  if (DecodeFixed32(p + 12) != 0) return bad("unknown flags");
  marker->version = version;
  marker->id.assign(p + 16, kStoreIdSize);
  marker->newest_segment = DecodeFixed32(p + 32);
  marker->clean_end = DecodeFixed32(p + 36);
  return Status::OK();
}

void RecordBuilder::Begin(RecordType type) {
  start_ = buf_->size();
  buf_->append(kRecordHeaderSize, '\0');
  (*buf_)[start_ + 8] = static_cast<char>(type);
  op_count_ = 0;
  open_ = true;
  if (type == kBatchRecord || type == kCompactionRecord) PutFixed32(buf_, 0);  // op count
}

void RecordBuilder::AddName(OpTag tag, std::string_view name) {
  buf_->push_back(static_cast<char>(tag));
  PutVarint64(buf_, name.size());
  buf_->append(name);
  ++op_count_;
}

size_t RecordBuilder::AddAppend(std::string_view stream, uint64_t seq, std::string_view payload) {
  AddName(kAppendOp, stream);
  PutVarint64(buf_, seq);
  PutVarint64(buf_, payload.size());
  size_t at = buf_->size();
  buf_->append(payload);
  return at;
}

size_t RecordBuilder::AddKvPut(std::string_view key, std::string_view value) {
  AddName(kKvPutOp, key);
  PutVarint64(buf_, value.size());
  size_t at = buf_->size();
  buf_->append(value);
  return at;
}

void RecordBuilder::AddKvDelete(std::string_view key) { AddName(kKvDeleteOp, key); }

void RecordBuilder::AddTruncate(std::string_view stream, uint64_t seq) {
  AddName(kTruncateOp, stream);
  PutVarint64(buf_, seq);
}

void RecordBuilder::AddStreamMeta(std::string_view stream, uint64_t hwm,
                                  uint64_t truncated_through) {
  AddName(kStreamMetaOp, stream);
  PutVarint64(buf_, hwm);
  PutVarint64(buf_, truncated_through);
}

void RecordBuilder::AddSegmentEnd(uint32_t segment_number) {
  Begin(kSegmentEndRecord);
  PutFixed64(buf_, segment_number);
  Finish();
}

void RecordBuilder::AddRetired(const std::vector<SegmentRange>& ranges) {
  Begin(kRetiredRecord);
  for (const SegmentRange& r : ranges) {
    PutFixed64(buf_, r.first);
    PutFixed64(buf_, r.last);
  }
  Finish();
}

void RecordBuilder::AddBlob(std::string_view cid, uint64_t size) {
  Begin(kBlobRecord);
  PutFixed64(buf_, size);
  buf_->append(cid);
  Finish();
}

void RecordBuilder::AddExtent(uint64_t file_size) {
  Begin(kExtentRecord);
  PutFixed64(buf_, file_size);
  Finish();
}

uint64_t DecodeExtent(std::string_view body) { return DecodeFixed64(body.data()); }

size_t RecordBuilder::Finish() {
  char* rec = buf_->data() + start_;
  RecordType type = static_cast<RecordType>(rec[8]);
  if (type == kBatchRecord || type == kCompactionRecord) {
    EncodeFixed32(rec + kRecordHeaderSize, op_count_);
  }
  size_t body = buf_->size() - start_ - kRecordHeaderSize;
  EncodeFixed32(rec + 4, static_cast<uint32_t>(body));
  EncodeFixed32(rec, crc32c::Value(rec + 4, body + 5));
  open_ = false;
  return body + kRecordHeaderSize;
}

void RecordBuilder::Abandon() {
  buf_->resize(start_);
  open_ = false;
}

namespace {

// Length of a valid UTF-8 sequence at s[i], or 0.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
  uint8_t c = b(0);
  size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xc0) != 0x80) return 0;
  }
  if (n == 3 && c == 0xe0 && b(1) < 0xa0) return 0;   // overlong
  if (n == 3 && c == 0xed && b(1) >= 0xa0) return 0;  // surrogate
  if (n == 4 && c == 0xf0 && b(1) < 0x90) return 0;   // overlong
  if (n == 4 && c == 0xf4 && b(1) >= 0x90) return 0;  // above U+10FFFF
  return n;
}

}  // namespace

std::string EscapeBytes(std::string_view s, size_t max_len, bool utf8) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  size_t n = max_len == 0 ? s.size() : std::min(s.size(), max_len);
  for (size_t i = 0; i < n; ++i) {
    auto u = static_cast<uint8_t>(s[i]);
    if (u == '\\' || u == '"') {
      out += '\\';
      out += static_cast<char>(u);
    } else if (u == '\n') {
      out += "\\n";
    } else if (u == '\t') {
      out += "\\t";
    } else if (u >= 0x20 && u < 0x7f) {
      out += static_cast<char>(u);
    } else if (size_t len = utf8 && u >= 0x80 ? Utf8SequenceLength(s, i) : 0; len > 0) {
      out.append(s.substr(i, len));
      i += len - 1;
    } else {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  if (n < s.size()) out += "...";
  return out;
}

namespace {

// The body length the header at pos declares, when its type is known, the
// body fits in the image and its length suits its type; else 0. The
// checksum is not looked at.
uint32_t PlausibleHeaderAt(std::string_view image, uint64_t pos) {
  if (pos + kRecordHeaderSize > image.size()) return 0;
  const char* p = image.data() + pos;
  uint8_t type = static_cast<uint8_t>(p[8]);
  if (type == kZeroType || type > kMaxRecordType) return 0;
  uint32_t len = DecodeFixed32(p + 4);
  if (len == 0 || len > kMaxRecordBodyBytes || len > image.size() - pos - kRecordHeaderSize) {
    return 0;
  }
  if (type == kSegmentEndRecord && len != kSegmentEndBodySize) return 0;
  if ((type == kBatchRecord || type == kCompactionRecord) && len < 4) return 0;
  if (type == kRetiredRecord && len % kRetiredRangeSize != 0) return 0;
  if (type == kBlobRecord && len < kMinBlobBodySize) return 0;
  if (type == kExtentRecord && len != kExtentBodySize) return 0;
  return len;
}

// Length of a valid record starting at pos, or 0 if there is none.
size_t ValidRecordAt(std::string_view image, uint64_t pos) {
  uint32_t len = PlausibleHeaderAt(image, pos);
  if (len == 0) return 0;
  const char* p = image.data() + pos;
  if (crc32c::Value(p + 4, len + 5) != DecodeFixed32(p)) return 0;
  return kRecordHeaderSize + len;
}

// First offset >= from holding a nonzero byte, or image.size().
uint64_t NextNonZero(std::string_view image, uint64_t from) {
  const char* p = image.data();
  uint64_t n = image.size();
  while (from < n && (from & 7) != 0) {
    if (p[from] != 0) return from;
    ++from;
  }
  while (from + 8 <= n) {
    uint64_t w;
    std::memcpy(&w, p + from, 8);
    if (w != 0) break;
    from += 8;
  }
  while (from < n && p[from] == 0) ++from;
  return from;
}

// Whether the body of a would-be record of this type and length at pos
// starts as the writer's records do. Cheap (a few bytes), it keeps the
// search for a valid record in damaged bytes from computing a checksum over
// a long length at almost every offset, which made it quadratic in the
// size of the damage. A record the writer made always passes.
bool PlausibleBodyStart(std::string_view image, uint64_t pos, uint8_t type, uint32_t len) {
  const char* body = image.data() + pos + kRecordHeaderSize;
  switch (type) {
    case kBatchRecord:
    case kCompactionRecord: {
      if (len < 6) return false;
      uint32_t ops = DecodeFixed32(body);
      uint8_t tag = static_cast<uint8_t>(body[4]);
      return ops >= 1 && ops <= (len - 4) / 2 && tag >= 1 && tag <= kMaxOpTag;
    }
    case kRetiredRecord: {
      uint64_t first = DecodeFixed64(body);
      uint64_t last = DecodeFixed64(body + 8);
      return first >= 1 && first <= last && last <= UINT32_MAX;
    }
    case kBlobRecord: {
      // The cid: "b" and lowercase base32.
      if (body[8] != 'b') return false;
      for (uint32_t i = 9; i < len && i < 17; ++i) {
        char c = body[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'))) return false;
      }
      return true;
    }
    default:
      return true;  // a segment-end record: 17 bytes, cheap to check whole
  }
}

// Like ValidRecordAt, for the search in damaged bytes: implausible starts
// are refused before the checksum is computed.
size_t PlausibleValidRecordAt(std::string_view image, uint64_t pos) {
  uint32_t len = PlausibleHeaderAt(image, pos);
  if (len == 0) return 0;
  uint8_t type = static_cast<uint8_t>(image[pos + 8]);
  if (!PlausibleBodyStart(image, pos, type, len)) return 0;
  return ValidRecordAt(image, pos);
}

// Is there a valid record anywhere in [from, end)? Zero runs are skipped
// quickly: a record header has a nonzero type byte at offset 8.
bool AnyValidRecordAfter(std::string_view image, uint64_t from, uint64_t* found) {
  uint64_t pos = from;
  while (pos < image.size()) {
    uint64_t nz = NextNonZero(image, pos);
    if (nz >= image.size()) return false;
    uint64_t start = nz >= 8 + from ? nz - 8 : from;
    if (start < pos) start = pos;
    for (uint64_t p = start; p <= nz; ++p) {
      if (PlausibleValidRecordAt(image, p) != 0) {
        *found = p;
        return true;
      }
    }
    pos = nz + 1;
  }
  return false;
}

uint64_t LastNonZeroEnd(std::string_view image, uint64_t from) {
  uint64_t end = image.size();
  while (end > from && (end & 7) != 0 && image[end - 1] == 0) --end;
  while (end >= from + 8) {
    uint64_t w;
    std::memcpy(&w, image.data() + end - 8, 8);
    if (w != 0) break;
    end -= 8;
  }
  while (end > from && image[end - 1] == 0) --end;
  return end;
}

// Whether the bytes at pos, just past the last valid record, cannot be a
// write cut short, and why; empty if they can. A segment's free space is
// zeros (written and synced when it was created) and is written once, in
// order, so a write cut short leaves a prefix of its bytes and zeros after
// them (a kill), or some 512-byte sectors of it still zero (a power cut):
// never other bytes. So a nonzero type byte that is not a record type is
// damage, and so is a record whose header is whole, whose length fits and
// whose bytes are all there (its last byte is not zero and no sector of it
// is all zeros), but whose checksum fails.
std::string TailDamage(std::string_view image, uint64_t pos, uint64_t base = 0) {
  if (pos + kRecordHeaderSize > image.size()) return "";
  const char* p = image.data() + pos;
  uint8_t type = static_cast<uint8_t>(p[8]);
  if (type == kZeroType) return "";
  std::string at = "the record at offset " + std::to_string(base + pos);
  if (type > kMaxRecordType) {
    return at + " has type " + std::to_string(type) + ", which no write ever makes";
  }
  uint32_t len = DecodeFixed32(p + 4);
  if (len == 0 && DecodeFixed32(p) == 0) return "";  // its first sector never written
  if (len == 0 || len > kMaxRecordBodyBytes || len > image.size() - pos - kRecordHeaderSize) {
    return at + " has a length (" + std::to_string(len) + ") that no write ever makes";
  }
  uint64_t end = pos + kRecordHeaderSize + len;
  if (image[end - 1] == 0) return "";
  constexpr uint64_t kSector = 512;
  for (uint64_t sector = (pos + kSector - 1) / kSector * kSector; sector + kSector <= end;
       sector += kSector) {
    if (NextNonZero(image.substr(0, sector + kSector), sector) == sector + kSector) return "";
  }
  return at + " is whole (" + std::to_string(end - pos) +
         " bytes, none missing) but its checksum fails: damage, not a write cut short";
}

// Reads the header: false, with the reason in scan, if it is not the valid
// header of segment number in a version this code reads.
bool ParseSegmentHeader(std::string_view image, uint32_t number, SegmentScan* scan) {
  auto bad = [scan](std::string reason) {
    scan->end = SegmentScan::End::kCorrupt;
    scan->reason = std::move(reason);
    return false;
  };
  if (image.size() < kSegmentHeaderSize) return bad("segment shorter than its header");
  const char* p = image.data();
  if (std::memcmp(p, kSegmentMagic, sizeof(kSegmentMagic)) != 0) return bad("bad segment magic");
  if (crc32c::Value(p, kSegmentHeaderSize - 4) != DecodeFixed32(p + kSegmentHeaderSize - 4)) {
    return bad("bad segment header checksum");
  }
  uint32_t version = DecodeFixed32(p + 8);
  if (version < kOldestReadableVersion || version > kFormatVersion) {
    return bad("segment format version " + std::to_string(version) +
               " is not one this code reads (" + std::to_string(kOldestReadableVersion) + " to " +
               std::to_string(kFormatVersion) + ")");
  }
  if (DecodeFixed32(p + 12) != 0) return bad("unknown segment header flags");
  if (DecodeFixed64(p + 16) != number) return bad("segment header names another segment number");
  uint32_t capacity = DecodeFixed32(p + 24);
  // Version 1 reserved the field and wrote 0; version 2 records the size.
  if (version == 1 ? capacity != 0 : capacity < kSegmentHeaderSize) {
    return bad("bad segment capacity " + std::to_string(capacity));
  }
  scan->version = version;
  scan->capacity = capacity;
  return true;
}

// How a segment ends after its last valid record: rest is the file from
// there (offset base) to its end; scan->end is kSealed or kClean so far.
void ClassifyTail(std::string_view rest, uint64_t base, SegmentScan* scan) {
  uint64_t found;
  if (AnyValidRecordAfter(rest, scan->end == SegmentScan::End::kSealed ? 0 : 1, &found)) {
    scan->end = SegmentScan::End::kCorrupt;
    scan->bad_offset = base;
    scan->reason =
        "invalid record followed by a valid one at offset " + std::to_string(base + found);
    return;
  }
  if (scan->end == SegmentScan::End::kSealed) return;
  if (NextNonZero(rest, 0) == rest.size()) return;  // zeros: clean end
  std::string damage = TailDamage(rest, 0, base);
  if (!damage.empty()) {
    scan->end = SegmentScan::End::kCorrupt;
    scan->bad_offset = base;
    scan->reason = std::move(damage);
    return;
  }
  uint64_t garbage = LastNonZeroEnd(rest, 0);
  if (garbage > 0) {
    scan->end = SegmentScan::End::kTornTail;
    scan->garbage_end = base + garbage;
    scan->reason = std::to_string(garbage) + " bytes of incomplete record";
  }
}

// A version-2 or 3 file was created at its full size and never changes size
// after, so a different size means bytes were cut off (or added) behind the
// store's back: records past the cut may be lost, which no torn write can
// cause. A version-4 file grows, each growth logged (and synced) before a
// record lies past the old size, so it must be at least the size its header
// and extent records give; a larger one is a growth whose extent record a
// crash kept from the log, harmless: nothing was written there.
void CheckFileSize(uint64_t size, SegmentScan* scan) {
  if (scan->version < 2 || size == scan->capacity) return;
  if (scan->version >= kFirstGrowingVersion && size > scan->capacity) return;
  scan->end = SegmentScan::End::kCorrupt;
  scan->bad_offset = std::min<uint64_t>(size, scan->capacity);
  if (scan->version >= kFirstGrowingVersion) {
    scan->reason = "the file is " + std::to_string(size) + " bytes, not the " +
                   std::to_string(scan->capacity) + " its log says it has: its end was cut off";
    return;
  }
  scan->reason = "the file is " + std::to_string(size) + " bytes, not the " +
                 std::to_string(scan->capacity) + " it was created with" +
                 (size < scan->capacity ? ": its end was cut off" : "");
}

// The records after a valid header, up to where the segment ends.
Status ScanRecords(std::string_view image, uint32_t number,
                   const std::function<Status(const RecordView&)>& fn, SegmentScan* scan) {
  uint64_t pos = kSegmentHeaderSize;
  while (true) {
    size_t len = ValidRecordAt(image, pos);
    if (len == 0) break;
    RecordView rec{pos, static_cast<RecordType>(image[pos + 8]),
                   image.substr(pos + kRecordHeaderSize, len - kRecordHeaderSize)};
    if (rec.type == kSegmentEndRecord && DecodeFixed64(rec.body.data()) != number) break;
    if (rec.type == kExtentRecord) {
      scan->capacity = std::max(scan->capacity, DecodeExtent(rec.body));
    }
    Status s = fn(rec);
    if (!s.ok()) return s;
    pos += len;
    if (rec.type == kSegmentEndRecord) {
      scan->end = SegmentScan::End::kSealed;
      break;
    }
  }
  scan->valid_end = pos;
  ClassifyTail(image.substr(pos), pos, scan);
  return Status::OK();
}

}  // namespace

size_t ValidRecordLengthAt(std::string_view image, uint64_t pos) {
  return ValidRecordAt(image, pos);
}

bool FindNextValidRecord(std::string_view image, uint64_t from, uint64_t* found) {
  return AnyValidRecordAfter(image, from, found);
}

Status ScanSegment(std::string_view image, uint32_t number,
                   const std::function<Status(const RecordView&)>& fn, SegmentScan* scan,
                   bool whole_file) {
  *scan = SegmentScan();
  if (!ParseSegmentHeader(image, number, scan)) return Status::OK();
  Status s = ScanRecords(image, number, fn, scan);
  if (!s.ok()) return s;
  if (whole_file) CheckFileSize(image.size(), scan);
  return Status::OK();
}

Status ScanSegmentFile(File* file, uint64_t size, uint32_t number,
                       const std::function<Status(const RecordView&)>& fn, SegmentScan* scan) {
  constexpr uint64_t kWindow = 1u << 20;
  *scan = SegmentScan();
  std::string buf;  // the file's bytes [buf_off, buf_off + buf.size())
  uint64_t buf_off = 0;
  // Makes buf hold [off, off + n), reading at least a window.
  auto cover = [&](uint64_t off, uint64_t n) -> Status {
    if (off >= buf_off && off + n <= buf_off + buf.size()) return Status::OK();
    uint64_t want = std::min<uint64_t>(std::max<uint64_t>(n, kWindow), size - off);
    buf_off = off;
    return file->ReadAt(off, static_cast<size_t>(want), &buf);
  };
  Status s = cover(0, std::min<uint64_t>(size, kSegmentHeaderSize));
  if (!s.ok()) return s;
  if (!ParseSegmentHeader(std::string_view(buf).substr(0, std::min<uint64_t>(buf.size(), size)),
                          number, scan)) {
    return Status::OK();
  }
  uint64_t pos = kSegmentHeaderSize;
  while (pos + kRecordHeaderSize <= size) {
    s = cover(pos, kRecordHeaderSize);
    if (!s.ok()) return s;
    if (buf_off + buf.size() < pos + kRecordHeaderSize) break;  // the file shrank under us
    const char* p = buf.data() + (pos - buf_off);
    uint32_t len = DecodeFixed32(p + 4);
    if (len == 0 || len > kMaxRecordBodyBytes || len > size - pos - kRecordHeaderSize) break;
    s = cover(pos, kRecordHeaderSize + len);
    if (!s.ok()) return s;
    std::string_view at = std::string_view(buf).substr(pos - buf_off, kRecordHeaderSize + len);
    if (at.size() != kRecordHeaderSize + len || ValidRecordAt(at, 0) == 0) break;
    RecordView rec{pos, static_cast<RecordType>(at[8]), at.substr(kRecordHeaderSize)};
    if (rec.type == kSegmentEndRecord && DecodeFixed64(rec.body.data()) != number) break;
    if (rec.type == kExtentRecord) {
      scan->capacity = std::max(scan->capacity, DecodeExtent(rec.body));
    }
    s = fn(rec);
    if (!s.ok()) return s;
    pos += kRecordHeaderSize + len;
    if (rec.type == kSegmentEndRecord) {
      scan->end = SegmentScan::End::kSealed;
      break;
    }
  }
  scan->valid_end = pos;
  // The rest is normally zeros: check it a window at a time.
  bool zeros = true;
  for (uint64_t off = pos; off < size && zeros; off += kWindow) {
    s = file->ReadAt(off, static_cast<size_t>(std::min<uint64_t>(kWindow, size - off)), &buf);
    if (!s.ok()) return s;
    zeros = NextNonZero(buf, 0) == buf.size();
  }
  if (!zeros) {
    s = file->ReadAt(pos, static_cast<size_t>(size - pos), &buf);
    if (!s.ok()) return s;
    ClassifyTail(buf, pos, scan);
  }
  CheckFileSize(size, scan);
  return Status::OK();
}

bool DecodeRetired(std::string_view body, std::vector<SegmentRange>* ranges) {
  if (body.empty() || body.size() % kRetiredRangeSize != 0) return false;
  uint64_t prev_last = 0;
  for (size_t off = 0; off < body.size(); off += kRetiredRangeSize) {
    uint64_t first = DecodeFixed64(body.data() + off);
    uint64_t last = DecodeFixed64(body.data() + off + 8);
    if (first == 0 || first > last || last > UINT32_MAX || first <= prev_last) return false;
    ranges->push_back(SegmentRange{static_cast<uint32_t>(first), static_cast<uint32_t>(last)});
    prev_last = last;
  }
  return true;
}

bool DecodeBlob(std::string_view body, uint64_t* size, std::string_view* cid) {
  if (body.size() < kMinBlobBodySize) return false;
  *size = DecodeFixed64(body.data());
  *cid = body.substr(8);
  return true;
}

OpReader::OpReader(std::string_view body) : rest_(body) {
  if (rest_.size() < 4) {
    status_ = Status::Corruption("record body too short for its op count");
    return;
  }
  remaining_ = DecodeFixed32(rest_.data());
  rest_.remove_prefix(4);
}

OpReader OpReader::Ops(std::string_view ops) {
  OpReader r;
  r.rest_ = ops;
  r.until_end_ = true;
  return r;
}

size_t AppendOpHeaderSize(size_t name_size, uint64_t seq, size_t payload_size) {
  return 1 + VarintLength(name_size) + name_size + VarintLength(seq) + VarintLength(payload_size);
}

bool OpReader::Next(OpView* op) {
  if (!status_.ok()) return false;
  if (until_end_) {
    if (rest_.empty()) return false;
  } else if (remaining_ == 0) {
    if (!rest_.empty()) status_ = Status::Corruption("bytes after the last op of a record");
    return false;
  }
  if (!until_end_) --remaining_;
  auto bad = [this](const char* what) {
    status_ = Status::Corruption(std::string("malformed op: ") + what);
    return false;
  };
  if (rest_.empty()) return bad("missing op");
  uint8_t tag = static_cast<uint8_t>(rest_[0]);
  rest_.remove_prefix(1);
  if (tag == 0 || tag > kMaxOpTag) return bad("unknown op tag");
  *op = OpView();
  op->tag = static_cast<OpTag>(tag);
  if (!GetLengthPrefixed(&rest_, &op->name)) return bad("name");
  if (op->name.size() > kMaxNameBytes) return bad("name too long");
  switch (op->tag) {
    case kAppendOp:
      if (!GetVarint64(&rest_, &op->seq) || op->seq == 0) return bad("seq");
      if (!GetLengthPrefixed(&rest_, &op->value)) return bad("payload");
      break;
    case kKvPutOp:
      if (!GetLengthPrefixed(&rest_, &op->value)) return bad("value");
      break;
    case kKvDeleteOp:
      break;
    case kTruncateOp:
      if (!GetVarint64(&rest_, &op->seq)) return bad("seq");
      break;
    case kStreamMetaOp:
      if (!GetVarint64(&rest_, &op->seq) || !GetVarint64(&rest_, &op->seq2)) return bad("meta");
      if (op->seq2 > op->seq) return bad("meta truncated beyond hwm");
      break;
  }
  return true;
}

Status CheckSegmentHeaderOf(File* file, uint32_t number, uint32_t* version) {
  std::string buf;
  Status s = file->ReadAt(0, kSegmentHeaderSize, &buf);
  if (!s.ok()) return s;
  SegmentScan scan;
  if (!ParseSegmentHeader(buf, number, &scan)) {
    return Status::Corruption(SegmentFileName(number) + ": " + scan.reason);
  }
  *version = scan.version;
  return Status::OK();
}

Status ScanWholeRecordsFrom(File* file, uint64_t from, uint32_t number,
                            const std::function<Status(const RecordView&)>& fn, uint64_t* end,
                            bool* sealed) {
  constexpr uint64_t kWindow = 16u << 10;
  *end = from;
  *sealed = false;
  uint64_t size;
  Status s = file->Size(&size);
  if (!s.ok()) return s;
  std::string buf;  // the file's bytes [buf_off, buf_off + buf.size())
  uint64_t buf_off = 0;
  uint64_t pos = from;
  while (pos + kRecordHeaderSize <= size) {
    if (pos < buf_off || pos + kRecordHeaderSize > buf_off + buf.size()) {
      buf_off = pos;
      s = file->ReadAt(pos, static_cast<size_t>(std::min<uint64_t>(kWindow, size - pos)), &buf);
      if (!s.ok()) return s;
      if (buf.size() < kRecordHeaderSize) break;  // the file shrank under us
    }
    uint32_t len = PlausibleHeaderAt(std::string_view(buf), pos - buf_off);
    if (len == 0) {
      // Either no record (zeros, a partial header) or one longer than the
      // window: read exactly the declared record and look again.
      uint32_t declared = DecodeFixed32(buf.data() + (pos - buf_off) + 4);
      uint8_t type = static_cast<uint8_t>(buf[pos - buf_off + 8]);
      if (type == kZeroType || type > kMaxRecordType || declared == 0 ||
          declared > kMaxRecordBodyBytes || declared > size - pos - kRecordHeaderSize ||
          pos + kRecordHeaderSize + declared <= buf_off + buf.size()) {
        break;
      }
      buf_off = pos;
      s = file->ReadAt(pos, kRecordHeaderSize + declared, &buf);
      if (!s.ok()) return s;
      continue;
    }
    size_t whole = ValidRecordAt(std::string_view(buf), pos - buf_off);
    if (whole == 0) break;  // not finished yet, or damage: stop before it either way
    std::string_view at = std::string_view(buf).substr(pos - buf_off, whole);
    RecordView rec{pos, static_cast<RecordType>(at[8]), at.substr(kRecordHeaderSize)};
    if (rec.type == kSegmentEndRecord && DecodeFixed64(rec.body.data()) != number) break;
    s = fn(rec);
    if (!s.ok()) return s;
    pos += whole;
    *end = pos;
    if (rec.type == kSegmentEndRecord) {
      *sealed = true;
      break;
    }
  }
  return Status::OK();
}

}  // namespace sx::store
