// Encoding and decoding of segment headers, records and the ops inside
// batch records (format: log_format.h, docs/storage-format.md).
//
// RecordBuilder appends records to a buffer that is later written with one
// write. ScanSegment walks the records of a whole segment image and says how
// the segment ends: sealed, clean (zeros), torn tail, or corrupt in the
// middle. OpReader iterates the ops of a batch or compaction record body;
// DecodeRetired and DecodeBlob read the bodies of the other record types.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "host/store/env.h"
#include "host/store/log_format.h"
#include "host/store/status.h"

namespace sx::store {

std::string SegmentFileName(uint32_t number);  // "0000000001.seg"
bool ParseSegmentFileName(std::string_view name, uint32_t* number);
// A header for segment number, whose file is capacity bytes long when
// created (version: for tests that write older stores).
std::string EncodeSegmentHeader(uint32_t number, uint32_t capacity,
                                uint32_t version = log::kFormatVersion);

// The store marker (file STORE): which store this is and the newest
// segment it has created. Rewritten (write-temp, sync, rename, sync dir)
// after each new segment is published, so it never names one that was not.
struct StoreMarker {
  uint32_t version = log::kFormatVersion;
  std::string id;               // log::kStoreIdSize bytes
  uint32_t newest_segment = 0;  // 0: none yet
  // Where the log in newest_segment ended when the store was last closed
  // cleanly; 0 while a writer has it open (or after a crash).
  uint32_t clean_end = 0;
};
std::string EncodeStoreMarker(const StoreMarker& marker);
// Corruption, saying what is wrong, unless data is a valid marker.
Status DecodeStoreMarker(std::string_view data, StoreMarker* marker);

// An inclusive range of segment numbers, as a retired record holds them.
struct SegmentRange {
  uint32_t first;
  uint32_t last;
  bool operator==(const SegmentRange&) const = default;
};

class RecordBuilder {
 public:
  explicit RecordBuilder(std::string* buf) : buf_(buf) {}

  // Starts a record of the given type at the end of the buffer.
  void Begin(log::RecordType type);
  // Ops of a batch or compaction record. The return value of AddAppend and
  // AddKvPut is the offset in the buffer where the payload bytes start.
  size_t AddAppend(std::string_view stream, uint64_t seq, std::string_view payload);
  size_t AddKvPut(std::string_view key, std::string_view value);
  void AddKvDelete(std::string_view key);
  void AddTruncate(std::string_view stream, uint64_t seq);
  void AddStreamMeta(std::string_view stream, uint64_t hwm, uint64_t truncated_through);
  // Fills in the header. Returns the record's size (header included).
  size_t Finish();
  // Drops the record begun last.
  void Abandon();

  // Whole records of the other types.
  void AddSegmentEnd(uint32_t segment_number);
  // ranges: sorted, disjoint, at least one.
  void AddRetired(const std::vector<SegmentRange>& ranges);
  void AddBlob(std::string_view cid, uint64_t size);
  void AddExtent(uint64_t file_size);

  uint32_t op_count() const { return op_count_; }
  size_t body_size() const { return buf_->size() - start_ - log::kRecordHeaderSize; }
  bool open() const { return open_; }

 private:
  void AddName(log::OpTag tag, std::string_view name);

  std::string* buf_;
  size_t start_ = 0;
  uint32_t op_count_ = 0;
  bool open_ = false;
};

// Printable form of arbitrary bytes: printable ASCII as is, backslash and
// double quote escaped, everything else as \xNN; "..." after max_len bytes
// (0: no limit). UTF-8 sequences are kept when utf8 is set.
std::string EscapeBytes(std::string_view s, size_t max_len = 0, bool utf8 = false);

// Cost estimate of one op in the live-byte accounting that drives compaction.
inline uint64_t OpCost(size_t name_size, size_t value_size) { return name_size + value_size + 16; }

struct RecordView {
  uint64_t offset;  // of the record header in the segment
  log::RecordType type;
  std::string_view body;  // points into the segment image
};

struct SegmentScan {
  enum class End {
    kClean,     // the valid records are followed by zeros or the end of file
    kSealed,    // ends with a segment-end record
    kTornTail,  // followed by bytes that hold no valid record: cut them off
    kCorrupt,   // an invalid record with a valid one after it, or a bad header
  };
  End end = End::kClean;
  uint32_t version = 0;  // from the header; 0 if the header is bad
  // The size the file must have: from a version-2 or later header, raised
  // by extent records (version 4); 0 in version 1.
  uint64_t capacity = 0;
  uint64_t valid_end = 0;    // offset just past the last valid record
  uint64_t garbage_end = 0;  // kTornTail: offset just past the last nonzero byte
  uint64_t bad_offset = 0;   // kCorrupt: where
  std::string reason;        // kCorrupt / kTornTail: what
};

// Calls fn for every valid record in order. Stops early if fn fails and
// returns that status; otherwise OK, with the way the segment ends in *scan.
// image is the whole file, and a version-2 or 3 file whose size is not the
// capacity in its header, or a version-4 file smaller than its header or
// extent records say, is corrupt (kCorrupt, after the records were passed
// to fn), unless whole_file is false: then image is only a prefix holding
// the records (compaction reads no more).
Status ScanSegment(std::string_view image, uint32_t number,
                   const std::function<Status(const RecordView&)>& fn, SegmentScan* scan,
                   bool whole_file = true);

// ScanSegment over a file of size bytes, read a window at a time: the
// memory it needs is in proportion to the largest record, not to the
// segment. (Only if nonzero bytes follow the last valid record, the rest of
// the file is read at once to classify them.) Record bodies passed to fn
// are valid during the call only.
Status ScanSegmentFile(File* file, uint64_t size, uint32_t number,
                       const std::function<Status(const RecordView&)>& fn, SegmentScan* scan);

// For readers beside a live writer (Store::Refresh). Checks that file
// starts with the valid header of segment number.
Status CheckSegmentHeaderOf(File* file, uint32_t number, uint32_t* version);
// Calls fn for each whole, valid record from offset from on, stopping
// without error at the first bytes that are not one: zeros, a record the
// writer has not finished writing, or damage (a reader cannot tell these
// apart, and need not: it reads that spot again later). *end is the offset
// just past the last record passed to fn; *sealed is set if that was the
// segment-end record of segment number.
Status ScanWholeRecordsFrom(File* file, uint64_t from, uint32_t number,
                            const std::function<Status(const RecordView&)>& fn, uint64_t* end,
                            bool* sealed);
// Length (header included) of the valid record at pos in a segment image:
// a plausible header and a matching checksum. 0 if there is none.
size_t ValidRecordLengthAt(std::string_view image, uint64_t pos);
// The first offset >= from holding a valid record, searching damaged bytes
// as recovery does (zero runs skipped, implausible starts refused before
// the checksum). False if there is none. Salvage resumes there.
bool FindNextValidRecord(std::string_view image, uint64_t from, uint64_t* found);

// Bodies of retired and blob records; false if malformed. DecodeRetired
// wants ranges of valid numbers (>= 1), sorted and disjoint.
bool DecodeRetired(std::string_view body, std::vector<SegmentRange>* ranges);
bool DecodeBlob(std::string_view body, uint64_t* size, std::string_view* cid);
// The new file size an extent record holds.
uint64_t DecodeExtent(std::string_view body);

struct OpView {
  log::OpTag tag;
  std::string_view name;   // stream or key
  uint64_t seq = 0;        // append / truncate seq, or meta hwm
  uint64_t seq2 = 0;       // meta truncated-through
  std::string_view value;  // payload or kv value; points into the body
};

class OpReader {
 public:
  explicit OpReader(std::string_view body);
  // Reads ops up to the end of ops, which holds whole ops from within a
  // body (no op count): the index reads a stretch of a record this way.
  static OpReader Ops(std::string_view ops);
  // False at the end or on a malformed op (then status() says which).
  bool Next(OpView* op);
  const Status& status() const { return status_; }

 private:
  OpReader() = default;

  std::string_view rest_;
  uint32_t remaining_ = 0;
  bool until_end_ = false;
  Status status_;
};

// Bytes of an append op before its payload: tag, name length, name, seq,
// payload length.
size_t AppendOpHeaderSize(size_t name_size, uint64_t seq, size_t payload_size);

}  // namespace sx::store
