// A string-keyed map split into stripes, each with its own mutex, so operations on different
// keys rarely wait for each other. Private to callsign_storage.
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace callsign::storage::detail {

// Thread-safety: stripe_for() may be called concurrently; a stripe's entries and counters are
// guarded by its mutex, which callers hold while touching them.
template <class Value>
class striped_map {
 public:
  static constexpr std::size_t stripe_count = 64;

  struct stripe {
    std::mutex mutex;
    // An ordered map rather than a hash map: keys come from attackers (usernames, addresses),
    // and a tree keeps every lookup O(log n) however they collide under std::hash.
    std::map<std::string, Value, std::less<>> entries;
    // For amortised sweeping of expired entries (users that need it).
    std::size_t operations_since_sweep = 0;
    std::size_t entries_after_sweep = 0;
  };

  stripe& stripe_for(std::string_view key) { return stripes_[std::hash<std::string_view>{}(key) % stripe_count]; }

  std::array<stripe, stripe_count>& stripes() noexcept { return stripes_; }

  // Entries over all stripes; each stripe is locked in turn, so the total is approximate
  // while others write.
  std::size_t size() {
    std::size_t total = 0;
    for (auto& s : stripes_) {
      std::lock_guard lock(s.mutex);
      total += s.entries.size();
    }
    return total;
  }

 private:
  std::array<stripe, stripe_count> stripes_;
};

}  // namespace callsign::storage::detail
