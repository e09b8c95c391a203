// Private to list_registry*.cpp: one list's state inside the registry.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "server/config/config.hpp"
#include "server/lists/list_fetch.hpp"
#include "server/lists/list_registry.hpp"
#include "server/lists/list_url.hpp"

namespace callsign::server {

// Size, modification time and inode: a cheap "did the set file change" test before a full pass.
struct file_fingerprint {
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::uint64_t inode = 0;
  bool operator==(const file_fingerprint&) const = default;
};

// A list whose source is a URL (docs/lists.md, "URL sources").
struct list_source_url {
  list_url url;
  std::optional<std::string> sha256;  // lower-case hex the download must match
  std::uint64_t max_bytes = 0;
  std::optional<std::filesystem::path> ca_file;
  std::chrono::milliseconds timeout{0};
  std::mutex fetching;          // one fetch of this list at a time; held over the download
  list_validators validators;   // of the serving download; guarded by `fetching`
  bool attempted = false;       // fetched at least once since start-up; guarded by the status mutex
};

// Null for a list read from a file. `limit`: the list's upload limit, which max_bytes cannot pass.
std::unique_ptr<list_source_url> make_list_source_url(const list_source_config& config, std::uint64_t limit);

struct list_registry::slot {
  list_status status;  // status.last_checked drives refresh_due
  std::filesystem::path source;
  std::chrono::seconds interval{0};
  file_fingerprint fingerprint;         // set files: of the serving file when it was loaded
  std::unique_ptr<list_source_url> url;  // set: `source` keeps the last good download of this URL
};

}  // namespace callsign::server
