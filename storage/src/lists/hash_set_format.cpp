#include "storage/lists/hash_set_format.hpp"

#include <algorithm>
#include <cstring>

namespace callsign::storage {
namespace {

void put_le(std::uint8_t* out, std::uint64_t value, std::size_t bytes) {
  for (std::size_t i = 0; i < bytes; ++i) out[i] = static_cast<std::uint8_t>(value >> (8 * i));
}

std::uint64_t get_le(const std::uint8_t* in, std::size_t bytes) {
  std::uint64_t value = 0;
  for (std::size_t i = bytes; i-- > 0;) value = (value << 8) | in[i];
  return value;
}

}  // namespace

std::size_t hash_set_entry_width(hash_set_kind kind) noexcept {
  switch (kind) {
    case hash_set_kind::credentials: return 16;
    case hash_set_kind::passwords: return 8;
  }
  return 0;
}

std::string_view hash_set_kind_name(hash_set_kind kind) noexcept {
  switch (kind) {
    case hash_set_kind::credentials: return "exposed credentials";
    case hash_set_kind::passwords: return "exposed passwords";
  }
  return "unknown";
}

std::uint64_t hash_set_max_entries(std::size_t width) noexcept {
  return width == 0 ? 0 : (std::uint64_t{1} << 61) / width;
}

std::uint64_t hash_set_pages(std::uint64_t count, std::size_t width) noexcept {
  if (count == 0) return 0;
  return (hash_set_header_size + count * width + hash_set_page_size - 1) / hash_set_page_size;
}

std::uint64_t hash_set_page_first_entry(std::uint64_t page, std::size_t width) noexcept {
  return page == 0 ? 0 : (page * hash_set_page_size - hash_set_header_size) / width;
}

std::uint64_t hash_set_index_offset(std::uint64_t count, std::size_t width) noexcept {
  return hash_set_header_size + count * width;
}

std::uint64_t hash_set_file_size(std::uint64_t count, std::size_t width) noexcept {
  return hash_set_index_offset(count, width) + hash_set_pages(count, width) * hash_set_index_entry_size;
}

std::array<std::uint8_t, hash_set_header_size> encode_hash_set_header(const hash_set_header& header) {
  std::array<std::uint8_t, hash_set_header_size> out{};
  std::memcpy(out.data(), hash_set_magic.data(), hash_set_magic.size());
  put_le(out.data() + 8, hash_set_version, 4);
  put_le(out.data() + 12, static_cast<std::uint32_t>(header.kind), 4);
  put_le(out.data() + 16, hash_set_entry_width(header.kind), 4);
  put_le(out.data() + 20, hash_set_page_size, 4);
  put_le(out.data() + 24, header.count, 8);
  std::copy(header.key_id.begin(), header.key_id.end(), out.begin() + 32);
  std::copy(header.checksum.begin(), header.checksum.end(), out.begin() + 40);
  return out;
}

result<hash_set_header> decode_hash_set_header(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < hash_set_header_size) {
    return make_error(error_kind::invalid_input, "set file is shorter than its 128-byte header");
  }
  if (std::memcmp(bytes.data(), hash_set_magic.data(), hash_set_magic.size()) != 0) {
    return make_error(error_kind::invalid_input, "not a callsign set file (bad magic)");
  }
  const auto version = get_le(bytes.data() + 8, 4);
  if (version == 1) {
    return make_error(error_kind::invalid_input,
                      "set file format version 1 has no page index and is no longer read; rebuild it with "
                      "'callsign breach build' or 'callsign breach import-hibp'");
  }
  if (version != hash_set_version) return make_error(error_kind::invalid_input, "unsupported set file version");
  hash_set_header header;
  const auto kind = get_le(bytes.data() + 12, 4);
  if (kind != 1 && kind != 2) return make_error(error_kind::invalid_input, "unknown set file kind");
  header.kind = static_cast<hash_set_kind>(kind);
  if (get_le(bytes.data() + 16, 4) != hash_set_entry_width(header.kind)) {
    return make_error(error_kind::invalid_input, "set file entry width does not match its kind");
  }
  if (get_le(bytes.data() + 20, 4) != hash_set_page_size) {
    return make_error(error_kind::invalid_input, "set file page size is not 4096");
  }
  header.count = get_le(bytes.data() + 24, 8);
  if (header.count > hash_set_max_entries(hash_set_entry_width(header.kind))) {
    return make_error(error_kind::invalid_input, "set file entry count is too large");
  }
  std::copy_n(bytes.begin() + 32, header.key_id.size(), header.key_id.begin());
  std::copy_n(bytes.begin() + 40, header.checksum.size(), header.checksum.begin());
  if (!std::all_of(bytes.begin() + 72, bytes.begin() + hash_set_header_size, [](std::uint8_t b) { return b == 0; })) {
    return make_error(error_kind::invalid_input, "set file header padding is not zero");
  }
  return header;
}

}  // namespace callsign::storage
