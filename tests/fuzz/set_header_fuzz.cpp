// The breach set file header on arbitrary bytes. Invariants: only a header of exactly the
// documented shape decodes (magic, version, kind with its width, zero reserved and padding),
// and a decoded header encodes back to the same 128 bytes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz/fuzz_check.hpp"
#include "storage/lists/hash_set_format.hpp"

using namespace callsign;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  auto header = storage::decode_hash_set_header(bytes);
  if (!header) {
    FUZZ_CHECK(header.error().kind == error_kind::invalid_input || header.error().kind == error_kind::rejected);
    return 0;
  }
  FUZZ_CHECK(size >= storage::hash_set_header_size);
  FUZZ_CHECK(storage::hash_set_entry_width(header->kind) != 0);
  const auto encoded = storage::encode_hash_set_header(*header);
  FUZZ_CHECK(std::equal(encoded.begin(), encoded.end(), bytes.begin()));
  return 0;
}
