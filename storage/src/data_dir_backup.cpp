#include "storage/data_dir_backup.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <string>
#include <system_error>

#include "crypto/constant_time.hpp"
#include "crypto/hex.hpp"
#include "crypto/random_bytes.hpp"

namespace callsign::storage {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view marker_first_line = "callsign backup 1\n";

error io_error(std::string_view action, const fs::path& path, int code) {
  return make_error(error_kind::unavailable,
                    std::string(action) + " " + path.string() + ": " + std::generic_category().message(code));
}

// Closes on scope exit.
class descriptor {
 public:
  explicit descriptor(int fd) noexcept : fd_(fd) {}
  descriptor(const descriptor&) = delete;
  descriptor& operator=(const descriptor&) = delete;
  ~descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

result<void> fsync_path(const fs::path& path, bool directory) {
  const descriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0)));
  if (fd.get() < 0) return io_error("cannot open", path, errno);
  if (::fsync(fd.get()) != 0) return io_error("cannot fsync", path, errno);
  return {};
}

result<void> write_all(int fd, const char* data, std::size_t size, const fs::path& path) {
  while (size > 0) {
    const ssize_t written = ::write(fd, data, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot write", path, errno);
    }
    data += written;
    size -= static_cast<std::size_t>(written);
  }
  return {};
}

// A new 0600 file at `to` with `from`'s bytes, fsynced. Counts into `report`.
result<void> copy_private_file(const fs::path& from, const fs::path& to, backup_report& report) {
  const descriptor in(::open(from.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (in.get() < 0) return io_error("cannot open", from, errno);
  const descriptor out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (out.get() < 0) return io_error("cannot create", to, errno);
  if (::fchmod(out.get(), 0600) != 0) return io_error("cannot chmod", to, errno);
  std::array<std::uint8_t, 64 * 1024> buffer{};
  // The buffer held key files (master.key, the JWT key): wiped on every way out.
  struct wipe_on_exit {
    std::array<std::uint8_t, 64 * 1024>& bytes;
    ~wipe_on_exit() { crypto::secure_wipe(bytes); }
  } const wipe{buffer};
  for (;;) {
    const ssize_t got = ::read(in.get(), buffer.data(), buffer.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot read", from, errno);
    }
    if (got == 0) break;
    const auto* bytes = reinterpret_cast<const char*>(buffer.data());
    if (auto written = write_all(out.get(), bytes, static_cast<std::size_t>(got), to); !written) return written;
    report.bytes += static_cast<std::uint64_t>(got);
  }
  if (::fsync(out.get()) != 0) return io_error("cannot fsync", to, errno);
  ++report.files;
  return {};
}

result<void> make_private_directory(const fs::path& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0) return io_error("cannot create directory", dir, errno);
  if (::chmod(dir.c_str(), 0700) != 0) return io_error("cannot chmod", dir, errno);
  return {};
}

bool is_temporary_name(const std::string& name) {
  return name.find(".tmp-") != std::string::npos || name.find(".partial-") != std::string::npos;
}

// Copies the tree under `from` into the existing directory `to`: directories 0700, regular
// files 0600, anything else (sockets, symlinks, fifos) skipped. `skip` names top-level entries
// to leave out.
result<void> copy_tree(const fs::path& from, const fs::path& to, backup_report& report,
                       std::initializer_list<std::string_view> skip) {
  std::error_code ec;
  fs::directory_iterator it(from, ec);
  if (ec) return make_error(error_kind::unavailable, "cannot list " + from.string() + ": " + ec.message());
  // increment(ec), not a range-for: its ++ throws on a read error, and errors here are values.
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    const fs::directory_entry& entry = *it;
    const std::string name = entry.path().filename().string();
    bool skipped = is_temporary_name(name);
    for (std::string_view s : skip) skipped = skipped || name == s;
    if (skipped) continue;
    const auto status = entry.symlink_status(ec);
    if (ec) return make_error(error_kind::unavailable, "cannot inspect " + entry.path().string() + ": " + ec.message());
    if (fs::is_directory(status)) {
      if (auto made = make_private_directory(to / name); !made) return made;
      if (auto copied = copy_tree(entry.path(), to / name, report, {}); !copied) return copied;
      if (auto synced = fsync_path(to / name, true); !synced) return synced;
    } else if (fs::is_regular_file(status)) {
      if (auto copied = copy_private_file(entry.path(), to / name, report); !copied) return copied;
    }
  }
  // A failed increment leaves the iterator at the end with ec set: a partial listing is an error.
  if (ec) return make_error(error_kind::unavailable, "cannot list " + from.string() + ": " + ec.message());
  return {};
}

// Makes every directory 0700 and every file 0600 under (and including) `dir`, fsyncing each.
result<void> restrict_and_sync(const fs::path& dir, backup_report& report) {
  if (::chmod(dir.c_str(), 0700) != 0) return io_error("cannot chmod", dir, errno);
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const fs::directory_entry& entry = *it;
    const auto status = entry.symlink_status(ec);
    if (ec) break;
    if (fs::is_directory(status)) {
      if (auto inner = restrict_and_sync(entry.path(), report); !inner) return inner;
    } else if (fs::is_regular_file(status)) {
      if (::chmod(entry.path().c_str(), 0600) != 0) return io_error("cannot chmod", entry.path(), errno);
      if (auto synced = fsync_path(entry.path(), false); !synced) return synced;
      ++report.files;
      std::error_code size_ec;
      const auto size = entry.file_size(size_ec);
      if (!size_ec) report.bytes += static_cast<std::uint64_t>(size);
    }
  }
  if (ec) return make_error(error_kind::unavailable, "cannot list " + dir.string() + ": " + ec.message());
  return fsync_path(dir, true);
}

// Refuses a target that exists and is not an empty directory.
result<void> require_empty_target(const fs::path& target) {
  std::error_code ec;
  const auto status = fs::symlink_status(target, ec);
  if (ec || !fs::exists(status)) return {};
  if (!fs::is_directory(status)) {
    return make_error(error_kind::conflict, target.string() + " exists and is not a directory");
  }
  if (!fs::is_empty(target, ec) || ec) {
    return make_error(error_kind::conflict, target.string() + " is not empty: refusing to overwrite anything");
  }
  return {};
}

// Absolute, normalized, without a trailing separator: "a/b/" and "a/./b" name the same place.
fs::path normalized(const fs::path& path) {
  std::error_code ec;  // absolute() fails only without a working directory: then the path as given
  fs::path out = fs::absolute(path, ec);
  if (ec) out = path;
  out = out.lexically_normal();
  if (!out.has_filename() && out.has_parent_path()) out = out.parent_path();
  return out;
}

result<fs::path> temporary_sibling(const fs::path& target) {
  std::array<std::uint8_t, 8> nonce{};
  if (auto filled = crypto::random_bytes(nonce); !filled) return filled.error();
  return target.parent_path() / (target.filename().string() + ".partial-" + crypto::hex_encode(nonce));
}

// Moves the finished temporary directory onto `target` (absent or an empty directory).
result<void> move_into_place(const fs::path& temporary, const fs::path& target) {
  std::error_code ec;
  if (fs::exists(fs::symlink_status(target, ec)) && ::rmdir(target.c_str()) != 0) {
    return io_error("cannot replace the empty directory", target, errno);
  }
  if (::rename(temporary.c_str(), target.c_str()) != 0) return io_error("cannot rename into", target, errno);
  return fsync_path(temporary.parent_path(), true);
}

void remove_quietly(const fs::path& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
}

// Whether `inner` is `outer` or lies under it, after resolving symbolic links and `..`.
bool same_or_inside(const fs::path& inner, const fs::path& outer) {
  std::error_code ec;
  const fs::path a = fs::weakly_canonical(fs::absolute(inner, ec), ec);
  const fs::path b = fs::weakly_canonical(fs::absolute(outer, ec), ec);
  if (a.empty() || b.empty()) return false;
  auto ia = a.begin();
  for (auto ib = b.begin(); ib != b.end(); ++ib, ++ia) {
    if (ib->empty()) continue;  // a trailing separator
    if (ia == a.end() || *ia != *ib) return false;
  }
  return true;
}

}  // namespace

result<backup_report> write_backup(const database& db, const fs::path& data_dir, const fs::path& given_dest,
                                   std::int64_t now) {
  const fs::path dest = normalized(given_dest);
  // A backup inside the data directory would be copied into every later backup (with another
  // copy of the master key each time); a data directory inside the destination would copy itself.
  if (same_or_inside(dest, data_dir) || same_or_inside(data_dir, dest)) {
    return make_error(error_kind::invalid_input, "the backup destination " + dest.string() +
                                                     " must be outside the data directory " + data_dir.string());
  }
  if (auto empty = require_empty_target(dest); !empty) return empty.error();
  std::error_code ec;
  fs::create_directories(dest.parent_path(), ec);
  auto temporary = temporary_sibling(dest);
  if (!temporary) return temporary.error();
  if (auto made = make_private_directory(*temporary); !made) return made.error();

  backup_report report;
  auto built = [&]() -> result<void> {
    // The database first: rings only grow, so the key ring copied next names every version
    // the checkpoint uses.
    if (auto checkpoint = db.create_checkpoint(*temporary / database_dir_name); !checkpoint) return checkpoint;
    if (auto restricted = restrict_and_sync(*temporary / database_dir_name, report); !restricted) return restricted;
    if (auto copied = copy_tree(data_dir, *temporary, report, {database_dir_name}); !copied) return copied;
    const descriptor marker(::open((*temporary / backup_marker_file_name).c_str(),
                                   O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (marker.get() < 0) return io_error("cannot create", *temporary / backup_marker_file_name, errno);
    const std::string text = std::string(marker_first_line) + "created " + std::to_string(now) + "\n";
    if (auto written = write_all(marker.get(), text.data(), text.size(), *temporary / backup_marker_file_name);
        !written) {
      return written;
    }
    if (::fsync(marker.get()) != 0) return io_error("cannot fsync", *temporary / backup_marker_file_name, errno);
    if (auto synced = fsync_path(*temporary, true); !synced) return synced;
    return move_into_place(*temporary, dest);
  }();
  if (!built) {
    remove_quietly(*temporary);
    return built.error();
  }
  return report;
}

result<backup_report> restore_backup(const fs::path& from, const fs::path& given_data_dir) {
  const fs::path data_dir = normalized(given_data_dir);
  std::error_code ec;
  const fs::path marker = from / backup_marker_file_name;
  if (!fs::is_regular_file(marker, ec)) {
    return make_error(error_kind::invalid_input, from.string() + " is not a callsign backup (no " +
                                                     std::string(backup_marker_file_name) + " file)");
  }
  if (!fs::is_directory(from / database_dir_name, ec)) {
    return make_error(error_kind::invalid_input, from.string() + " holds no database");
  }
  if (auto empty = require_empty_target(data_dir); !empty) return empty.error();
  fs::create_directories(data_dir.parent_path(), ec);
  auto temporary = temporary_sibling(data_dir);
  if (!temporary) return temporary.error();
  if (auto made = make_private_directory(*temporary); !made) return made.error();
  backup_report report;
  auto restored = [&]() -> result<void> {
    if (auto copied = copy_tree(from, *temporary, report, {backup_marker_file_name}); !copied) return copied;
    if (auto synced = fsync_path(*temporary, true); !synced) return synced;
    return move_into_place(*temporary, data_dir);
  }();
  if (!restored) {
    remove_quietly(*temporary);
    return restored.error();
  }
  return report;
}

}  // namespace callsign::storage
