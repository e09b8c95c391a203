// The four account-takeover lists as atomically swapped immutable snapshots (docs/lists.md).
// A reload reads and validates the new content completely, off the I/O threads (callers run
// it on the worker pool or the refresh thread); any error keeps the old version serving and
// is kept as last_error.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/key_ring.hpp"
#include "crypto/result.hpp"
#include "server/config/config.hpp"
#include "server/lists/list_download.hpp"
#include "server/lists/list_snapshot.hpp"
#include "storage/clock.hpp"

namespace callsign::server {

enum class list_id : std::size_t { open_proxies = 0, managed_devices, exposed_credentials, exposed_passwords };
inline constexpr std::array<list_id, 4> all_lists{list_id::open_proxies, list_id::managed_devices,
                                                  list_id::exposed_credentials, list_id::exposed_passwords};

std::string_view list_name(list_id id) noexcept;
std::optional<list_id> parse_list_name(std::string_view name) noexcept;

struct list_status {
  list_id id = list_id::open_proxies;
  std::uint64_t version = 0;      // 0 = never loaded; +1 on every swap
  std::uint64_t entries = 0;
  std::string sha256;             // hex; text lists: the file; set files: their entries
  std::int64_t loaded_at = 0;     // unix seconds of the last swap, 0 if none
  std::filesystem::path source;   // a URL list: where its last good download is kept
  std::string last_error;         // of the last attempt; empty after a success
  std::chrono::seconds refresh_interval{0};
  std::int64_t last_checked = 0;  // unix seconds of the last attempt (any outcome), 0 if none
  // URL sources only (docs/lists.md, "URL sources"): the URL without userinfo or query, and the
  // validators of the serving download, sent back in the next conditional GET.
  std::string url;
  std::string etag;
  std::string last_modified;
};

struct reload_outcome {
  bool changed = false;  // false: content identical to the serving version, nothing swapped
  list_status status;
};

// Called with each attempt's outcome while reloads are still serialized, so whatever it
// submits to the (first-in, first-out) group-commit writer is journaled in version order. It
// must not block: submit, never wait.
using ordered_report = std::function<void(list_id, const result<reload_outcome>&)>;

// Called with the snapshot a reload is about to serve, just before the swap, on the reloading
// thread (the worker pool, the refresh thread or SIGHUP's: never an I/O thread), while reloads
// are serialized. The rule registry binds `$open_proxies` there (rule_registry::bind), so a login
// check never compiles rules.
using swap_preparer = std::function<void(const list_snapshot& next)>;

// Thread safety: every member function may be called concurrently. Reloads of one registry
// are serialized; snapshot() never waits for a reload.
class list_registry {
 public:
  // Paths default to <data_dir>/lists/<name>.<ipset|txt|set>. Holds a credential hasher for
  // every master key version, so sets built with an older key keep working after rotation.
  // `downloader` fetches the lists whose source is a URL; without one, fetching them fails.
  list_registry(const lists_config& config, const std::filesystem::path& data_dir, const crypto::key_ring& keys,
                const storage::clock& clock, list_downloader* downloader = nullptr);
  ~list_registry();
  list_registry(const list_registry&) = delete;
  list_registry& operator=(const list_registry&) = delete;

  // Start-up: removes upload files a crash left behind (`<source>.upload-*`), then loads every
  // list. A missing or bad file leaves that list empty with last_error set; the server still
  // starts (docs/lists.md). A URL list loads its last good download here; the refresh thread
  // fetches it at its first poll, so a slow list server never delays the start.
  void load_all();

  // Re-reads the list's source. Unchanged content (same sha256) swaps nothing. A URL source is
  // fetched with a conditional GET: 304 keeps the serving version (a successful check), a 200's
  // body is installed as an upload would be.
  result<reload_outcome> reload(list_id id, const ordered_report& report = {});

  // Validates `upload` (a file in the source's directory, see upload_path) completely, then
  // renames it over the source and swaps. On error the upload is removed and the old version
  // keeps serving.
  result<reload_outcome> install_upload(list_id id, const std::filesystem::path& upload,
                                        const ordered_report& report = {});

  // A fresh path next to the source for an upload to be written to (same filesystem, so the
  // final rename is atomic). Creates the directory if needed.
  result<std::filesystem::path> upload_path(list_id id) const;

  // Reloads every list whose refresh interval has passed since its last check (by the
  // injected clock); returns the outcomes of those attempted.
  std::vector<std::pair<list_id, result<reload_outcome>>> refresh_due(const ordered_report& report = {});
  // Reloads every list now (SIGHUP).
  std::vector<std::pair<list_id, result<reload_outcome>>> reload_all(const ordered_report& report = {});

  // Set once, before any reload runs (start-up): not synchronized with reloads.
  void set_before_swap(swap_preparer prepare) { before_swap_ = std::move(prepare); }

  std::vector<list_status> statuses() const;
  list_status status(list_id id) const;

  // A copy of the serving snapshot under a lock held for the copy only (about as cheap as an
  // uncontended atomic). Not std::atomic<std::shared_ptr>: libstdc++ 12's load() releases its
  // lock bit with a relaxed store, a data race with the next store() (TSan, tools/tsan).
  std::shared_ptr<const list_snapshot> snapshot() const {
    const std::lock_guard lock(current_mutex_);
    return current_;
  }

  // The largest file the list accepts: lists.max_upload_bytes, and for the text lists (parsed
  // in memory) also lists.max_text_bytes.
  std::size_t upload_limit(list_id id) const noexcept;

  // True when the list is loaded from a URL: uploads to it are refused (409).
  bool has_url_source(list_id id) const noexcept;

  // Shutdown: ends downloads in flight and refuses new ones (list_downloader::stop).
  void stop_fetches() noexcept {
    if (downloader_ != nullptr) downloader_->stop();
  }

 private:
  struct slot;
  result<reload_outcome> load(list_id id, const std::filesystem::path& from, bool installing);
  // A serving set file rewritten in place under its mapping (storage/lists/mapping_guard.hpp):
  // it answers no matches, and is due for a reload at once, whatever its interval.
  bool serving_damaged(list_id id) const;
  // URL sources (list_registry_url.cpp).
  result<reload_outcome> fetch(list_id id, const ordered_report& report);
  void load_download_copy(list_id id);
  error record_failure(list_id id, const error& err);

  std::array<std::unique_ptr<slot>, 4> slots_;
  std::vector<std::shared_ptr<const crypto::credential_hasher>> hashers_;
  const storage::clock& clock_;
  list_downloader* downloader_;
  std::size_t max_upload_bytes_;
  std::size_t max_text_bytes_;
  std::mutex reload_mutex_;  // one reload at a time; guards slots_' loaded state
  mutable std::mutex status_mutex_;
  mutable std::mutex current_mutex_;  // guards current_ (copies and the swap), never held longer
  std::shared_ptr<const list_snapshot> current_;
  swap_preparer before_swap_;
  mutable std::atomic<std::uint64_t> upload_counter_{0};
};

}  // namespace callsign::server
