#include "storage/private_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <system_error>
#include <utility>

#include "crypto/constant_time.hpp"
#include "crypto/hex.hpp"
#include "crypto/random_bytes.hpp"

namespace callsign::storage {
namespace {

namespace fs = std::filesystem;

// Closes on scope exit so every early return releases the descriptor.
class file_descriptor {
 public:
  explicit file_descriptor(int fd) noexcept : fd_(fd) {}
  file_descriptor(const file_descriptor&) = delete;
  file_descriptor& operator=(const file_descriptor&) = delete;
  ~file_descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

error io_error(std::string_view action, const fs::path& path, int code) {
  return make_error(error_kind::unavailable,
                    std::string(action) + " " + path.string() + ": " + std::generic_category().message(code));
}

std::string octal_mode(mode_t mode) {
  std::string text = "0000";
  for (std::size_t i = 4; i-- > 0;) {
    text[i] = static_cast<char>('0' + (mode & 07U));
    mode >>= 3;
  }
  return text;
}

fs::path directory_of(const fs::path& path) {
  return path.has_parent_path() ? path.parent_path() : fs::path(".");
}

// Creates each missing component with mode 0700 (std::filesystem would use 0777 & ~umask).
result<void> create_private_directories(const fs::path& dir) {
  struct stat info {};
  if (::stat(dir.c_str(), &info) == 0) {
    if (S_ISDIR(info.st_mode)) return {};
    return make_error(error_kind::invalid_input, dir.string() + " is not a directory");
  }
  if (errno != ENOENT) return io_error("cannot inspect", dir, errno);
  if (dir.has_parent_path() && dir.parent_path() != dir) {
    if (auto parent = create_private_directories(dir.parent_path()); !parent) return parent;
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return io_error("cannot create directory", dir, errno);
  }
  return {};
}

result<void> fsync_directory(const fs::path& dir) {
  const file_descriptor fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return io_error("cannot open directory", dir, errno);
  if (::fsync(fd.get()) != 0) return io_error("cannot fsync directory", dir, errno);
  return {};
}

result<void> write_all(int fd, std::string_view text, const fs::path& path) {
  while (!text.empty()) {
    const ssize_t written = ::write(fd, text.data(), text.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot write", path, errno);
    }
    text.remove_prefix(static_cast<std::size_t>(written));
  }
  return {};
}

// Writes `text` to a new 0600 file beside `target` and fsyncs it; returns the file's path.
result<fs::path> write_temporary(const fs::path& target, std::string_view text) {
  std::array<std::uint8_t, 8> nonce{};
  if (auto filled = crypto::random_bytes(nonce); !filled) return filled.error();
  const fs::path temporary = directory_of(target) / (target.filename().string() + ".tmp-" + crypto::hex_encode(nonce));

  file_descriptor fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) return io_error("cannot create", temporary, errno);
  result<void> written = [&]() -> result<void> {
    if (::fchmod(fd.get(), 0600) != 0) return io_error("cannot chmod", temporary, errno);  // umask may be 0
    if (auto all = write_all(fd.get(), text, temporary); !all) return all;
    if (::fsync(fd.get()) != 0) return io_error("cannot fsync", temporary, errno);
    if (::close(fd.release()) != 0) return io_error("cannot close", temporary, errno);
    return {};
  }();
  if (!written) {
    ::unlink(temporary.c_str());
    return written.error();
  }
  return temporary;
}

}  // namespace

result<std::string> read_private_file(const fs::path& path, std::size_t max_size) {
  const file_descriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return make_error(error_kind::not_found, "no file at " + path.string());
    return io_error("cannot open", path, errno);
  }
  // Checked on the open descriptor, so the file read is the file judged.
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) return io_error("cannot inspect", path, errno);
  if (!S_ISREG(info.st_mode)) {
    return make_error(error_kind::invalid_input, path.string() + " is not a regular file");
  }
  if ((info.st_mode & 077U) != 0) {
    return make_error(error_kind::forbidden,
                      path.string() + " holds a secret but is readable or writable by group or " + "others (mode " +
                          octal_mode(info.st_mode & 07777U) + "); run: chmod 600 " + path.string());
  }
  if (static_cast<std::size_t>(info.st_size) > max_size) {
    return make_error(error_kind::invalid_input,
                      path.string() + " is larger than " + std::to_string(max_size) + " bytes");
  }

  std::string text(static_cast<std::size_t>(info.st_size), '\0');
  std::size_t filled = 0;
  while (filled < text.size()) {
    const ssize_t got = ::read(fd.get(), text.data() + filled, text.size() - filled);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int code = errno;
      crypto::secure_wipe(text);
      return io_error("cannot read", path, code);
    }
    if (got == 0) break;  // shrank while reading; return what is there
    filled += static_cast<std::size_t>(got);
  }
  text.resize(filled);
  return text;
}

result<std::string> read_or_create_private_file(const fs::path& path, std::size_t max_size,
                                                const std::function<result<std::string>()>& make_content) {
  auto loaded = read_private_file(path, max_size);
  if (loaded || loaded.error().kind != error_kind::not_found) return loaded;

  if (auto dir = create_private_directories(directory_of(path)); !dir) return dir.error();
  auto content = make_content();
  if (!content) return content.error();
  auto temporary = write_temporary(path, *content);
  if (!temporary) {
    crypto::secure_wipe(*content);
    return temporary.error();
  }

  // link() refuses to replace a file another process created meanwhile; rename() would not.
  if (::link(temporary->c_str(), path.c_str()) != 0) {
    const int code = errno;
    if (code == EPERM || code == EOPNOTSUPP) {
      // Filesystems without hard links: fall back to rename and accept the tiny race.
      if (::rename(temporary->c_str(), path.c_str()) != 0) {
        const int rename_code = errno;
        ::unlink(temporary->c_str());
        crypto::secure_wipe(*content);
        return io_error("cannot rename into", path, rename_code);
      }
    } else {
      ::unlink(temporary->c_str());
      crypto::secure_wipe(*content);
      if (code == EEXIST) return read_private_file(path, max_size);
      return io_error("cannot link into", path, code);
    }
  } else {
    ::unlink(temporary->c_str());
  }
  if (auto synced = fsync_directory(directory_of(path)); !synced) {
    crypto::secure_wipe(*content);
    return synced.error();
  }
  return content;
}

result<void> replace_private_file(const fs::path& path, std::string_view content) {
  if (auto dir = create_private_directories(directory_of(path)); !dir) return dir;
  auto temporary = write_temporary(path, content);
  if (!temporary) return temporary.error();
  if (::rename(temporary->c_str(), path.c_str()) != 0) {
    const int code = errno;
    ::unlink(temporary->c_str());
    return io_error("cannot rename into", path, code);
  }
  return fsync_directory(directory_of(path));
}

}  // namespace callsign::storage
