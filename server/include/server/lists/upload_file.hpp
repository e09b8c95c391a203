// A list upload written to disk chunk by chunk as it arrives (PUT /v1/admin/lists/{name}), so
// its memory cost is one chunk whatever the upload's size. The file is new (O_EXCL), capped at
// a byte limit, hashed with SHA-256 while it streams, and fsynced by finish() before
// list_registry::install_upload validates and renames it. Until finish() succeeds the file is
// removed on any failure, on abort() and on destruction, so an interrupted upload (disconnect,
// timeout, ENOSPC, over the limit) leaves nothing behind.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

#include "crypto/result.hpp"
#include "crypto/sha256_stream.hpp"

namespace callsign::server {

struct stored_upload {
  std::filesystem::path path;
  std::uint64_t bytes = 0;
  std::string sha256;  // hex, of the bytes as uploaded
};

// Thread safety: none; one owner at a time (the session hands it between its strand and the
// worker pool, never to two threads at once).
class upload_file {
 public:
  // Creates `path` (O_EXCL, 0644); unavailable when it cannot (directory missing, exists, ...).
  static result<upload_file> create(std::filesystem::path path, std::uint64_t limit);

  upload_file(upload_file&& other) noexcept;
  upload_file& operator=(upload_file&& other) noexcept;
  upload_file(const upload_file&) = delete;
  upload_file& operator=(const upload_file&) = delete;
  ~upload_file();  // abort() unless finished

  // Appends `chunk`. Fails, removing the file, when the total would pass the limit
  // (exceeded_limit() is then true; nothing of the chunk is written) or the disk refuses it.
  result<void> write(std::span<const std::uint8_t> chunk);
  result<void> write(std::string_view chunk);

  // fsync and close. The file stays for the caller (install_upload renames or removes it);
  // on failure it is removed.
  result<stored_upload> finish();

  // Closes and removes the file; harmless when already finished, aborted or moved from.
  void abort() noexcept;

  bool exceeded_limit() const noexcept { return exceeded_limit_; }
  bool is_open() const noexcept { return fd_ >= 0; }
  std::uint64_t bytes() const noexcept { return bytes_; }
  std::uint64_t limit() const noexcept { return limit_; }
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  upload_file(int fd, std::filesystem::path path, std::uint64_t limit);

  int fd_ = -1;
  std::filesystem::path path_;
  std::uint64_t limit_ = 0;
  std::uint64_t bytes_ = 0;
  bool exceeded_limit_ = false;
  crypto::sha256_stream digest_;
};

}  // namespace callsign::server
