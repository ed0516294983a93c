#include "host/store/sha256.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>

namespace sx::store {
namespace {

// libcrypto fails a digest only when it cannot allocate: as for any other
// allocation failure, there is no going on.
void Check(int ok, const char* what) {
  if (ok == 1) return;
  std::fprintf(stderr, "sx: sha-256: %s failed (out of memory)\n", what);
  std::abort();
}

// The digest's implementation, fetched once: given EVP_sha256(), every
// digest fetches it again from the provider's tables, under their lock,
// which cost a short name more than the hashing.
const EVP_MD* Md() {
  static EVP_MD* const md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    Check(m != nullptr, "EVP_MD_fetch");
    return m;
  }();
  return md;
}

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  Check(ctx_ != nullptr, "EVP_MD_CTX_new");
  Check(EVP_DigestInit_ex(ctx_, Md(), nullptr), "EVP_DigestInit_ex");
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::Update(const void* data, size_t n) {
  Check(EVP_DigestUpdate(ctx_, data, n), "EVP_DigestUpdate");
}

Sha256::Digest Sha256::Finish() {
  Digest d;
  unsigned int len = 0;
  Check(EVP_DigestFinal_ex(ctx_, d.data(), &len), "EVP_DigestFinal_ex");
  Check(len == d.size(), "EVP_DigestFinal_ex length");
  return d;
}

Sha256::Digest Sha256::Hash(std::string_view s) {
  Digest d;
  unsigned int len = 0;
  Check(EVP_Digest(s.data(), s.size(), d.data(), &len, Md(), nullptr), "EVP_Digest");
  Check(len == d.size(), "EVP_Digest length");
  return d;
}

std::string Sha256::Hex(const Digest& d) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (uint8_t b : d) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

}  // namespace sx::store
