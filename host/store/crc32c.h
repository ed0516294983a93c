// CRC-32C (Castagnoli), the checksum of every record and segment header.
// Uses the SSE4.2 crc32 instruction when the CPU has it, a table otherwise;
// both give the same value (crc32c("123456789") == 0xe3069283).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sx::store::crc32c {

// CRC of data appended to a stream whose CRC so far is init_crc.
uint32_t Extend(uint32_t init_crc, const char* data, size_t n);

inline uint32_t Value(const char* data, size_t n) { return Extend(0, data, n); }
inline uint32_t Value(std::string_view s) { return Extend(0, s.data(), s.size()); }

// The portable path, exposed so tests can check both agree.
uint32_t ExtendPortable(uint32_t init_crc, const char* data, size_t n);
bool HardwareAccelerated();

}  // namespace sx::store::crc32c
