// SHA-256 (FIPS 180-4), used to name blobs by content. A thin wrapper over
// OpenSSL's libcrypto (EVP), so the store hashes with a maintained, tested
// implementation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

struct evp_md_ctx_st;  // EVP_MD_CTX, from <openssl/evp.h>

namespace sx::store {

class Sha256 {
 public:
  using Digest = std::array<uint8_t, 32>;

  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t n);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  Digest Finish();  // the object must not be used again afterwards

  static Digest Hash(std::string_view s);
  static std::string Hex(const Digest& d);

 private:
  evp_md_ctx_st* ctx_;
};

}  // namespace sx::store
