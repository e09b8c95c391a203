#include "storage/key_ring_file.hpp"

#include <string>

#include "crypto/constant_time.hpp"
#include "storage/private_file.hpp"

namespace callsign::storage {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t max_file_size = 1U << 20;  // a ring is ~80 bytes per version

// Parses file text and wipes it; errors name the file and line, never the key.
result<crypto::key_ring> parse_and_wipe(const fs::path& path, std::string& text) {
  auto ring = crypto::key_ring::parse(text);
  crypto::secure_wipe(text);
  if (!ring) return make_error(ring.error().kind, path.string() + ": " + ring.error().message);
  return ring;
}

}  // namespace

result<crypto::key_ring> load_key_ring(const fs::path& path) {
  auto text = read_private_file(path, max_file_size);
  if (!text) {
    if (text.error().kind == error_kind::not_found) {
      return make_error(error_kind::not_found, "no key ring file at " + path.string());
    }
    return text.error();
  }
  return parse_and_wipe(path, *text);
}

result<crypto::key_ring> load_or_create_key_ring(const fs::path& path) {
  auto text = read_or_create_private_file(path, max_file_size, []() -> result<std::string> {
    auto ring = crypto::key_ring::generate();
    if (!ring) return ring.error();
    return ring->serialize();
  });
  if (!text) return text.error();
  // Whether generated here or by a racing process, the file's content is the ring.
  return parse_and_wipe(path, *text);
}

result<void> save_key_ring(const fs::path& path, const crypto::key_ring& ring) {
  std::string text = ring.serialize();
  auto saved = replace_private_file(path, text);
  crypto::secure_wipe(text);
  return saved;
}

}  // namespace callsign::storage
