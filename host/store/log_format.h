// On-disk constants of the sx store log. Nothing else lives here: the prose,
// the worked example and the recovery rules are in docs/storage-format.md.
//
// A store directory holds numbered segment files. Each segment starts with a
// fixed header and continues with records; the rest of a preallocated segment
// is zero bytes, which never parse as a record (type 0 is invalid).
//
//   segment header (32 bytes, little-endian):
//     magic[8] | version u32 | flags u32 | segment number u64 |
//     capacity u32 (the file's size when created; 0 in version 1) |
//     crc32c u32 (of the 28 bytes before it)
//   A version-4 segment starts small and grows: each growth is an extent
//   record holding the file's new size, synced before any record past the
//   old size is written.
//   record:
//     crc32c u32 (of length, type and body) | length u32 (of body) | type u8 | body
//   batch / compaction body:
//     op count u32 | op*
//   op:
//     tag u8 | varint name length | name | tag-specific fields (see OpTag)
//   store marker (file STORE, 48 bytes, since version 3):
//     magic[8] | version u32 | flags u32 | store id[16] |
//     newest segment number u32 | clean end u32 | reserved u32 |
//     crc32c u32 (of the 44 bytes before it)
#pragma once

#include <cstddef>
#include <cstdint>

namespace sx::store::log {

inline constexpr char kSegmentMagic[8] = {'s', 'x', 's', 't', 'o', 'r', 'e', '\n'};
inline constexpr uint32_t kFormatVersion = 4;          // written in every new segment
inline constexpr uint32_t kOldestReadableVersion = 1;  // read; never written
inline constexpr size_t kSegmentHeaderSize = 32;

inline constexpr size_t kRecordHeaderSize = 9;  // crc32c u32, length u32, type u8

enum RecordType : uint8_t {
  kZeroType = 0,          // preallocated space; never written
  kBatchRecord = 1,       // one committed WriteBatch: all its ops or none
  kCompactionRecord = 2,  // live ops copied forward by the compactor
  kSegmentEndRecord = 3,  // seals a segment; body: segment number u64
  kRetiredRecord = 4,     // every segment compaction deleted; body: (first u64 | last u64)+
  kBlobRecord = 5,        // a blob file was published; body: size u64 | cid
  kExtentRecord = 6,      // the segment file was grown (version 4); body: its new size u64
  kMaxRecordType = kExtentRecord,
};

enum OpTag : uint8_t {
  kAppendOp = 1,      // name, varint seq, varint payload length, payload
  kKvPutOp = 2,       // key, varint value length, value
  kKvDeleteOp = 3,    // key
  kTruncateOp = 4,    // name, varint seq (events with seq <= it are dropped)
  kStreamMetaOp = 5,  // name, varint hwm, varint truncated-through
  kMaxOpTag = kStreamMetaOp,
};

inline constexpr size_t kSegmentEndBodySize = 8;
inline constexpr size_t kSegmentEndRecordSize = kRecordHeaderSize + kSegmentEndBodySize;
inline constexpr size_t kRetiredRangeSize = 16;  // first u64, last u64: an inclusive range
inline constexpr size_t kMinBlobBodySize = 9;    // size u64 and at least one cid byte
inline constexpr size_t kExtentBodySize = 8;
inline constexpr size_t kExtentRecordSize = kRecordHeaderSize + kExtentBodySize;

// Limits. Offsets inside a segment are 32-bit, so a segment is < 4 GiB.
inline constexpr uint64_t kMaxRecordBodyBytes = 1ull << 30;
inline constexpr uint64_t kMaxSegmentBytes = (1ull << 32) - 1;
inline constexpr uint64_t kMinSegmentBytes = 4096;
inline constexpr size_t kMaxNameBytes = 1u << 20;     // stream names and kv keys
inline constexpr size_t kMaxValueBytes = 256u << 20;  // event payloads and kv values

// File names. None is ever derived from a stream name or a key.
inline constexpr char kSegmentSuffix[] = ".seg";    // "%010u.seg", the segment number
inline constexpr char kTempSuffix[] = ".tmp";       // written, synced, then renamed
inline constexpr char kLockFileName[] = "LOCK";     // flock()ed; holds the owner's pid
inline constexpr char kBlobDirName[] = "blobs";     // blobs/<cid>, named by content
inline constexpr char kMarkerFileName[] = "STORE";  // the store marker (version 3 on)

inline constexpr char kMarkerMagic[8] = {'s', 'x', 's', 't', 'o', 'r', 'e', 'M'};
inline constexpr size_t kMarkerSize = 48;
inline constexpr size_t kStoreIdSize = 16;
inline constexpr uint32_t kFirstMarkedVersion = 3;  // stores from this version on have one
// Segments from this version on start at Options::initial_segment_bytes
// (this by default; or the segment size, if smaller) and double, up to the
// segment size.
inline constexpr uint32_t kFirstGrowingVersion = 4;
inline constexpr uint64_t kInitialSegmentBytes = 1u << 20;

}  // namespace sx::store::log
