#include "server/lists/list_registry.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <system_error>

#include "crypto/hex.hpp"
#include "crypto/sha256.hpp"
#include "lists/list_registry_slot.hpp"
#include "storage/lists/ip_set_parser.hpp"

namespace callsign::server {
namespace {

constexpr std::array<std::string_view, 4> names{"open_proxies", "managed_devices", "exposed_credentials",
                                                "exposed_passwords"};
constexpr std::array<std::string_view, 4> default_files{"open_proxies.ipset", "managed_devices.txt",
                                                        "exposed_credentials.set", "exposed_passwords.set"};

std::size_t index_of(list_id id) noexcept { return static_cast<std::size_t>(id); }

bool is_set_file(list_id id) noexcept {
  return id == list_id::exposed_credentials || id == list_id::exposed_passwords;
}

const list_source_config& source_config(const lists_config& config, list_id id) {
  switch (id) {
    case list_id::open_proxies: return config.open_proxies;
    case list_id::managed_devices: return config.managed_devices;
    case list_id::exposed_credentials: return config.exposed_credentials;
    case list_id::exposed_passwords: break;
  }
  return config.exposed_passwords;
}

file_fingerprint fingerprint_of(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return {static_cast<std::uint64_t>(st.st_size),
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
          static_cast<std::uint64_t>(st.st_ino)};
}

result<std::string> read_list_text(const std::filesystem::path& path, std::size_t limit) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) {
      return make_error(error_kind::not_found, path.string() + " does not exist");
    }
    return make_error(error_kind::unavailable, "cannot read " + path.string() + ": " + ec.message());
  }
  if (size > limit) {
    return make_error(error_kind::invalid_input,
                      "list file is larger than lists.max_text_bytes / lists.max_upload_bytes (" +
                          std::to_string(limit) + " bytes)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(error_kind::unavailable, "cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Makes a rename in `dir` durable. Best effort: the new version already serves either way; a
// crash before the directory reaches the disk can only bring back the old, complete file.
void sync_directory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

// Start-up only: `<source>.upload-*` files are uploads a crash (or SIGKILL) cut off before they
// were installed or removed. Nothing else writes that name, and no upload runs yet.
void remove_stale_uploads(const std::filesystem::path& source) {
  const auto dir = source.has_parent_path() ? source.parent_path() : std::filesystem::path(".");
  const std::string prefix = source.filename().string() + ".upload-";
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().starts_with(prefix)) {
      std::error_code ignored;
      std::filesystem::remove(it->path(), ignored);
    }
  }
}

error prefixed(list_id id, const error& err) {
  return make_error(err.kind, std::string(names[index_of(id)]) + ": " + err.message);
}

}  // namespace

std::string_view list_name(list_id id) noexcept { return names[index_of(id)]; }

std::optional<list_id> parse_list_name(std::string_view name) noexcept {
  for (const list_id id : all_lists) {
    if (names[index_of(id)] == name) return id;
  }
  return std::nullopt;
}

list_registry::list_registry(const lists_config& config, const std::filesystem::path& data_dir,
                             const crypto::key_ring& keys, const storage::clock& clock, list_downloader* downloader)
    : clock_(clock),
      downloader_(downloader),
      max_upload_bytes_(config.max_upload_bytes),
      max_text_bytes_(config.max_text_bytes) {
  for (const list_id id : all_lists) {
    auto s = std::make_unique<slot>();
    const auto& source = source_config(config, id);
    s->source = source.path.value_or(data_dir / "lists" / default_files[index_of(id)]);
    s->interval = source.refresh_interval;
    s->status.id = id;
    s->status.source = s->source;
    s->status.refresh_interval = source.refresh_interval;
    slots_[index_of(id)] = std::move(s);
  }
  for (const list_id id : all_lists) {  // after the loop above: upload_limit is known
    slot& s = *slots_[index_of(id)];
    s.url = make_list_source_url(source_config(config, id), upload_limit(id));
    if (s.url) s.status.url = s.url->url.redacted();
  }
  for (const std::uint32_t version : keys.versions()) {
    hashers_.push_back(std::make_shared<const crypto::credential_hasher>(*keys.find(version)));
  }
  current_ = std::make_shared<const list_snapshot>();
}

list_registry::~list_registry() = default;

std::size_t list_registry::upload_limit(list_id id) const noexcept {
  return is_set_file(id) ? max_upload_bytes_ : std::min(max_upload_bytes_, max_text_bytes_);
}

void list_registry::load_all() {
  for (const list_id id : all_lists) {
    remove_stale_uploads(slots_[index_of(id)]->source);
    if (slots_[index_of(id)]->url) {
      load_download_copy(id);
    } else {
      (void)reload(id);  // failures are kept as last_error
    }
  }
}

result<reload_outcome> list_registry::reload(list_id id, const ordered_report& report) {
  if (slots_[index_of(id)]->url) return fetch(id, report);
  const std::lock_guard lock(reload_mutex_);
  auto outcome = load(id, slots_[index_of(id)]->source, false);
  if (report) report(id, outcome);
  return outcome;
}

result<reload_outcome> list_registry::install_upload(list_id id, const std::filesystem::path& upload,
                                                     const ordered_report& report) {
  const std::lock_guard lock(reload_mutex_);
  auto outcome = load(id, upload, true);
  if (!outcome) {
    std::error_code ignored;
    std::filesystem::remove(upload, ignored);
  }
  if (report) report(id, outcome);
  return outcome;
}

result<std::filesystem::path> list_registry::upload_path(list_id id) const {
  const auto& source = slots_[index_of(id)]->source;
  std::error_code ec;
  const auto dir = source.has_parent_path() ? source.parent_path() : std::filesystem::path(".");
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(error_kind::unavailable, "cannot create " + dir.string() + ": " + ec.message());
  auto path = source;
  path += ".upload-" + std::to_string(clock_.unix_seconds()) + "-" +
          std::to_string(upload_counter_.fetch_add(1));
  return path;
}

// Caller holds reload_mutex_. `installing`: `from` is an upload to rename over the source
// once it has been validated.
bool list_registry::serving_damaged(list_id id) const {
  if (!is_set_file(id)) return false;
  const auto serving = snapshot();
  const auto& file = id == list_id::exposed_credentials ? serving->exposed_credentials : serving->exposed_passwords;
  return file && file->damaged();
}

result<reload_outcome> list_registry::load(list_id id, const std::filesystem::path& from, bool installing) {
  slot& s = *slots_[index_of(id)];
  const std::int64_t now = clock_.unix_seconds();
  const bool damaged = serving_damaged(id);
  auto fail = [&](const error& err) -> result<reload_outcome> {
    error named = prefixed(id, err);
    if (damaged) {
      named.message = "the serving set file was rewritten in place (replace set files by rename) and matches "
                      "nothing until a reload succeeds; " + named.message;
    }
    const std::lock_guard status_lock(status_mutex_);
    s.status.last_checked = now;
    s.status.last_error = named.message;
    return named;
  };

  auto next = std::make_shared<list_snapshot>(*snapshot());
  std::uint64_t entries = 0;
  std::string sha256;
  file_fingerprint fingerprint;
  if (!is_set_file(id)) {
    auto text = read_list_text(from, upload_limit(id));
    if (!text) return fail(text.error());
    sha256 = crypto::hex_encode(crypto::sha256(*text));
    if (sha256 != s.status.sha256 || s.status.version == 0) {
      if (id == list_id::open_proxies) {
        auto parsed = storage::parse_ip_set(*text);
        if (!parsed) return fail(parsed.error());
        entries = parsed->entries();
        next->open_proxies = std::make_shared<const storage::ip_set>(std::move(parsed).value());
      } else {
        auto parsed = storage::device_set::parse(*text);
        if (!parsed) return fail(parsed.error());
        entries = parsed->entries();
        next->managed_devices = std::make_shared<const storage::device_set>(std::move(parsed).value());
      }
    }
  } else {
    fingerprint = fingerprint_of(from);
    if (!installing && s.status.version != 0 && fingerprint == s.fingerprint && !damaged) {
      const std::lock_guard status_lock(status_mutex_);
      s.status.last_checked = now;
      s.status.last_error.clear();
      return reload_outcome{false, s.status};
    }
    const auto kind = id == list_id::exposed_credentials ? storage::hash_set_kind::credentials
                                                         : storage::hash_set_kind::passwords;
    auto file = storage::hash_set_file::open(from, kind);
    if (!file) return fail(file.error());
    if (auto verified = file->verify_checksum(); !verified) return fail(verified.error());
    sha256 = crypto::hex_encode(file->header().checksum);
    entries = file->entries();
    std::shared_ptr<const crypto::credential_hasher> hasher;
    if (id == list_id::exposed_credentials) {
      const auto match = std::find_if(hashers_.begin(), hashers_.end(), [&](const auto& h) {
        return h->key_id() == file->header().key_id;
      });
      if (match == hashers_.end()) {
        return fail(make_error(error_kind::invalid_input,
                               "set file was built with a different master key than this server's; rebuild it "
                               "with 'callsign breach build --data-dir <this server's data directory>'"));
      }
      hasher = *match;
    }
    auto shared = std::make_shared<const storage::hash_set_file>(std::move(file).value());
    if (id == list_id::exposed_credentials) {
      next->exposed_credentials = std::move(shared);
      next->credential_hasher = std::move(hasher);
    } else {
      next->exposed_passwords = std::move(shared);
    }
  }

  if (installing) {
    std::error_code ec;
    std::filesystem::rename(from, s.source, ec);
    if (ec) return fail(make_error(error_kind::unavailable, "cannot rename the upload into place: " + ec.message()));
    sync_directory(s.source.parent_path());
    if (is_set_file(id)) fingerprint = fingerprint_of(s.source);
  }
  // Only reloads write sha256 and version, and this one holds reload_mutex_.
  // A damaged serving file is replaced even by identical content: its mapping reads zeros.
  const bool unchanged = sha256 == s.status.sha256 && s.status.version != 0 && !damaged;
  if (!unchanged && before_swap_) before_swap_(*next);
  const std::lock_guard status_lock(status_mutex_);
  s.status.last_checked = now;
  s.status.last_error.clear();
  if (unchanged) {
    s.fingerprint = fingerprint;
    return reload_outcome{false, s.status};
  }
  {
    std::shared_ptr<const list_snapshot> serving = std::move(next);
    const std::lock_guard lock(current_mutex_);
    current_.swap(serving);
  }  // the old snapshot, if this held its last reference, is freed outside the lock
  s.fingerprint = fingerprint;
  s.status.version += 1;
  s.status.entries = entries;
  s.status.sha256 = std::move(sha256);
  s.status.loaded_at = now;
  return reload_outcome{true, s.status};
}

std::vector<std::pair<list_id, result<reload_outcome>>> list_registry::refresh_due(const ordered_report& report) {
  std::vector<std::pair<list_id, result<reload_outcome>>> outcomes;
  for (const list_id id : all_lists) {
    bool due = false;
    const bool damaged = serving_damaged(id);
    {
      const std::lock_guard status_lock(status_mutex_);
      const slot& s = *slots_[index_of(id)];
      // A URL list is fetched once soon after start-up whatever its interval (load_all only
      // loaded its last good download).
      const std::int64_t since = clock_.unix_seconds() - s.status.last_checked;
      due = (s.interval.count() > 0 && since >= s.interval.count()) || (s.url && !s.url->attempted) ||
            // A damaged set file (see serving_damaged) at once, then every 10 s while reloads fail.
            (damaged && (s.status.last_error.empty() || since >= 10));
    }
    if (due) outcomes.emplace_back(id, reload(id, report));
  }
  return outcomes;
}

std::vector<std::pair<list_id, result<reload_outcome>>> list_registry::reload_all(const ordered_report& report) {
  std::vector<std::pair<list_id, result<reload_outcome>>> outcomes;
  for (const list_id id : all_lists) outcomes.emplace_back(id, reload(id, report));
  return outcomes;
}

std::vector<list_status> list_registry::statuses() const {
  std::vector<list_status> out;
  for (const list_id id : all_lists) out.push_back(status(id));
  return out;
}

list_status list_registry::status(list_id id) const {
  const std::lock_guard status_lock(status_mutex_);
  return slots_[index_of(id)]->status;
}

}  // namespace callsign::server
