// The sorted hash set file shared by the two breach lists (docs/lists.md, "Set file format"):
//   128-byte header, little-endian fields:
//     0  magic    "CSHSET\r\n" (8 bytes; the CR LF catches text-mode mangling)
//     8  version  u32 = 2 (version 1 had no page index; it is refused with a rebuild hint)
//    12  kind     u32: 1 = exposed credentials (16-byte keyed hashes), 2 = exposed passwords
//                      (8-byte truncated SHA-1)
//    16  width    u32 entry width in bytes (16 or 8; must match kind)
//    20  page     u32 = 4096, the page size of the page index
//    24  count    u64 number of entries
//    32  key id   8 bytes (credential sets: credential_hasher::key_id(); zero otherwise)
//    40  checksum 32 bytes: SHA-256 of the entry bytes followed by the page index bytes
//    72  zero padding to 128
//   then count entries of `width` bytes, sorted ascending by bytes, no duplicates;
//   then the page index: for every 4 KiB page of the file that holds an entry, in order, the
//   first 8 bytes of the first entry starting in it (entries never straddle a page: 128 and
//   4096 are multiples of both widths). A lookup reads the index, then one data page.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "crypto/credential_hash.hpp"
#include "crypto/result.hpp"
#include "crypto/sha256.hpp"

namespace callsign::storage {

enum class hash_set_kind : std::uint32_t { credentials = 1, passwords = 2 };

inline constexpr std::size_t hash_set_header_size = 128;
inline constexpr std::string_view hash_set_magic{"CSHSET\r\n", 8};
inline constexpr std::uint32_t hash_set_version = 2;
inline constexpr std::uint64_t hash_set_page_size = 4096;
inline constexpr std::uint64_t hash_set_index_entry_size = 8;

std::size_t hash_set_entry_width(hash_set_kind kind) noexcept;  // 16, 8; 0 for a bad value
std::string_view hash_set_kind_name(hash_set_kind kind) noexcept;

struct hash_set_header {
  hash_set_kind kind = hash_set_kind::credentials;
  std::uint64_t count = 0;
  crypto::credential_key_id key_id{};
  crypto::sha256_digest checksum{};
};

// Layout arithmetic (width is 8 or 16; count is at most hash_set_max_entries(width)).
std::uint64_t hash_set_max_entries(std::size_t width) noexcept;  // keeps every offset below 2^62
std::uint64_t hash_set_pages(std::uint64_t count, std::size_t width) noexcept;  // pages holding entries
std::uint64_t hash_set_page_first_entry(std::uint64_t page, std::size_t width) noexcept;  // page 0: entry 0
std::uint64_t hash_set_index_offset(std::uint64_t count, std::size_t width) noexcept;
std::uint64_t hash_set_file_size(std::uint64_t count, std::size_t width) noexcept;

std::array<std::uint8_t, hash_set_header_size> encode_hash_set_header(const hash_set_header& header);

// Checks magic, version, kind, width, page size, count bound and padding; errors say which,
// in fixed words.
result<hash_set_header> decode_hash_set_header(std::span<const std::uint8_t> bytes);

}  // namespace callsign::storage
