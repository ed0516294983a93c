#include "host/store/cid.h"

#include <cstring>

namespace sx::store {
namespace {

constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
constexpr unsigned char kCidPrefix[4] = {0x01, 0x55, 0x12, 0x20};

}  // namespace

std::string Base32Lower(std::string_view bytes) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 5) {
      out += kAlphabet[(acc >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (5 - bits)) & 31];
  return out;
}

bool DecodeBase32Lower(std::string_view text, std::string* bytes) {
  bytes->clear();
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'a' && c <= 'z') {
      v = c - 'a';
    } else if (c >= '2' && c <= '7') {
      v = c - '2' + 26;
    } else {
      return false;
    }
    acc = (acc << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bytes->push_back(static_cast<char>((acc >> (bits - 8)) & 0xff));
      bits -= 8;
    }
  }
  // Leftover bits must be zero padding, fewer than one byte's worth.
  return bits < 5 && (acc & ((1u << bits) - 1)) == 0;
}

std::string CidForBytes(std::string_view bytes) {
  Sha256::Digest d = Sha256::Hash(bytes);
  std::string raw(reinterpret_cast<const char*>(kCidPrefix), 4);
  raw.append(reinterpret_cast<const char*>(d.data()), d.size());
  std::string cid = "b";
  cid += Base32Lower(raw);
  return cid;
}

bool ParseRawSha256Cid(std::string_view cid, Sha256::Digest* digest) {
  if (cid.size() != 59 || cid[0] != 'b') return false;
  std::string raw;
  if (!DecodeBase32Lower(cid.substr(1), &raw) || raw.size() != 36) return false;
  if (std::memcmp(raw.data(), kCidPrefix, 4) != 0) return false;
  std::memcpy(digest->data(), raw.data() + 4, 32);
  return true;
}

}  // namespace sx::store
