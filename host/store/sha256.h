// SHA-256 (FIPS 180-4), used to name blobs by content.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sx::store {

class Sha256 {
 public:
  using Digest = std::array<uint8_t, 32>;

  Sha256();
  void Update(const void* data, size_t n);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  Digest Finish();  // the object must not be used again afterwards

  static Digest Hash(std::string_view s);
  static std::string Hex(const Digest& d);

 private:
  void Compress(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  uint8_t buffer_[64];
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

}  // namespace sx::store
