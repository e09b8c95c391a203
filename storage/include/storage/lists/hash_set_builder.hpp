// Builds a hash set file from entries in any order, in bounded memory: entries collect in a
// run buffer; a full buffer is sorted, deduplicated and written as a run file next to the
// output; finish() k-way merges the runs into OUT.tmp, appends the page index (format in
// hash_set_format.hpp), fsyncs it and renames it over OUT.
// Nothing half-written is ever visible under OUT, and run files are removed on every path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>

#include "crypto/result.hpp"
#include "storage/lists/hash_set_format.hpp"

namespace callsign::storage {

struct hash_set_build_options {
  hash_set_kind kind = hash_set_kind::credentials;
  crypto::credential_key_id key_id{};        // credential sets only
  std::size_t run_bytes = std::size_t{128} << 20;  // memory for one sorted run
};

// Not thread-safe: one builder per thread.
class hash_set_builder {
 public:
  static result<hash_set_builder> create(const std::filesystem::path& out, const hash_set_build_options& options);

  hash_set_builder(hash_set_builder&&) noexcept;
  hash_set_builder& operator=(hash_set_builder&&) noexcept;
  ~hash_set_builder();  // removes run and temporary files left by an unfinished build

  // `entry` must be exactly the kind's width.
  result<void> add(std::span<const std::uint8_t> entry);

  // Writes the file; the returned header has the unique entry count and checksum.
  result<hash_set_header> finish();

  std::uint64_t added() const noexcept;        // entries given to add()
  std::size_t runs_written() const noexcept;   // run files spilled so far

 private:
  struct state;
  explicit hash_set_builder(std::unique_ptr<state> s) noexcept;
  std::unique_ptr<state> state_;
};

}  // namespace callsign::storage
