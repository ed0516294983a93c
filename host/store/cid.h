// IPFS CIDv1 for raw bytes: multibase base32 (lower case, prefix 'b') of
// <version 0x01><codec raw 0x55><multihash sha2-256 0x12, length 0x20, digest>.
// The same bytes always give the same cid, which means the same thing to any
// IPFS tool.
#pragma once

#include <string>
#include <string_view>

#include "host/store/sha256.h"

namespace sx::store {

std::string CidForBytes(std::string_view bytes);

// Parses a cid made by CidForBytes; false for anything else (other codecs,
// hashes or bases are not stored here).
bool ParseRawSha256Cid(std::string_view cid, Sha256::Digest* digest);

std::string Base32Lower(std::string_view bytes);  // RFC 4648, no padding
bool DecodeBase32Lower(std::string_view text, std::string* bytes);

}  // namespace sx::store
