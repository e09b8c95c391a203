#include "server/lists/upload_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include "crypto/hex.hpp"

namespace callsign::server {

namespace {

error storage_error(std::string_view what, int err) {
  return make_error(error_kind::unavailable, std::string(what) + ": " + std::strerror(err));
}

}  // namespace

result<upload_file> upload_file::create(std::filesystem::path path, std::uint64_t limit) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return storage_error("cannot store the upload", errno);
  return upload_file(fd, std::move(path), limit);
}

upload_file::upload_file(int fd, std::filesystem::path path, std::uint64_t limit)
    : fd_(fd), path_(std::move(path)), limit_(limit) {}

upload_file::upload_file(upload_file&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      limit_(other.limit_),
      bytes_(other.bytes_),
      exceeded_limit_(other.exceeded_limit_),
      digest_(std::move(other.digest_)) {}

upload_file& upload_file::operator=(upload_file&& other) noexcept {
  if (this != &other) {
    abort();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    limit_ = other.limit_;
    bytes_ = other.bytes_;
    exceeded_limit_ = other.exceeded_limit_;
    digest_ = std::move(other.digest_);
  }
  return *this;
}

upload_file::~upload_file() { abort(); }

void upload_file::abort() noexcept {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
  std::error_code ignored;
  std::filesystem::remove(path_, ignored);
}

result<void> upload_file::write(std::string_view chunk) {
  return write(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(chunk.data()), chunk.size()));
}

result<void> upload_file::write(std::span<const std::uint8_t> chunk) {
  if (fd_ < 0) return make_error(error_kind::internal, "the upload file is closed");
  if (chunk.size() > limit_ - bytes_) {
    exceeded_limit_ = true;
    abort();
    return make_error(error_kind::invalid_input, "the upload exceeds its size limit");
  }
  std::size_t written = 0;
  while (written < chunk.size()) {
    const ssize_t n = ::write(fd_, chunk.data() + written, chunk.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : ENOSPC;  // a 0-byte write on a regular file: out of space
      abort();
      return storage_error("cannot store the upload", err);
    }
    written += static_cast<std::size_t>(n);
  }
  digest_.update(chunk);
  bytes_ += chunk.size();
  return {};
}

result<stored_upload> upload_file::finish() {
  if (fd_ < 0) return make_error(error_kind::internal, "the upload file is closed");
  if (::fsync(fd_) != 0) {
    const int err = errno;
    abort();
    return storage_error("cannot sync the upload", err);
  }
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) {
    const int err = errno;
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
    return storage_error("cannot close the upload", err);
  }
  const auto digest = digest_.finish();
  return stored_upload{path_, bytes_, crypto::hex_encode(digest)};
}

}  // namespace callsign::server
