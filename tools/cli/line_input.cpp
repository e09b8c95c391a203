#include "line_input.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <utility>

#include "crypto/constant_time.hpp"

namespace callsign::cli {

line_input::line_input(std::FILE* file, bool owned, std::uint64_t total) noexcept
    : file_(file), owned_(owned), total_(total) {
  // Large enough that getline() rarely grows it: a grown buffer's old copy is freed unwiped.
  capacity_ = 64 * 1024;
  buffer_ = static_cast<char*>(std::malloc(capacity_));
  if (buffer_ == nullptr) capacity_ = 0;
}

result<line_input> line_input::open(const std::filesystem::path& path) {
  if (path == "-") return line_input(stdin, false, 0);
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return make_error(error_kind::unavailable, "cannot read " + path.string() + ": " + std::strerror(errno));
  }
  struct stat st {};
  std::uint64_t total = 0;
  if (::fstat(::fileno(file), &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      std::fclose(file);
      return make_error(error_kind::invalid_input, "cannot read " + path.string() + ": it is a directory");
    }
    if (S_ISREG(st.st_mode)) total = static_cast<std::uint64_t>(st.st_size);
  }
  return line_input(file, true, total);
}

line_input::line_input(line_input&& other) noexcept
    : file_(std::exchange(other.file_, nullptr)),
      owned_(std::exchange(other.owned_, false)),
      buffer_(std::exchange(other.buffer_, nullptr)),
      capacity_(std::exchange(other.capacity_, 0)),
      bytes_(other.bytes_),
      total_(other.total_) {}

line_input::~line_input() {
  if (buffer_ != nullptr) {
    crypto::secure_wipe(std::span(reinterpret_cast<std::uint8_t*>(buffer_), capacity_));
    std::free(buffer_);
  }
  if (owned_ && file_ != nullptr) std::fclose(file_);
}

bool line_input::next(std::string_view& line) {
  const ssize_t length = ::getline(&buffer_, &capacity_, file_);
  if (length < 0) return false;
  bytes_ += static_cast<std::uint64_t>(length);
  line = std::string_view(buffer_, static_cast<std::size_t>(length));
  return true;
}

bool line_input::failed() const {
  return file_ != nullptr && std::ferror(file_) != 0;
}

}  // namespace callsign::cli
