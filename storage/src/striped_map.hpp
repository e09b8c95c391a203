// A string-keyed map split into stripes, each with its own mutex, so operations on different
// keys rarely wait for each other. Private to callsign_storage.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
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
  // Many small stripes keep each tree shallow: a lookup walks about log2(keys / stripes) nodes,
  // each a likely cache miss. 16,384 stripes (about 1.7 MB per map) keep that to 3 or 4 at
  // 120,000 keys, where 1,024 stripes took 7 (docs/benchmarks.md, "Verify").
  static constexpr std::size_t stripe_count = 16384;

  struct stripe {
    std::mutex mutex;
    // An ordered map rather than a hash map: keys come from attackers (usernames, addresses),
    // and a tree keeps every lookup O(log n) however they collide under std::hash.
    std::map<std::string, Value, std::less<>> entries;
    // For amortised sweeping of expired entries (users that need it): see sweep_expired_if_due.
    std::size_t operations_since_sweep = 0;
    std::size_t entries_after_sweep = 0;
  };

  // Dead entries a stripe may hold between sweeps, at least (see sweep_expired_if_due): over all
  // stripes at most stripe_count * min_operations_between_sweeps = 16,384 on top of the live ones.
  // A sweep of a stripe that kept nothing costs next to nothing, so it may come at every operation.
  static constexpr std::size_t min_operations_between_sweeps = 1;

  // For values with `bool expired(std::int64_t now_ms) const` (counters, blocks): counts one
  // operation on `s` (whose mutex the caller holds) and, when due, erases its expired entries. A
  // sweep that kept n entries is followed by the next after max(n, min_operations_between_sweeps)
  // operations, so sweeping costs O(1) per operation.
  static void sweep_expired_if_due(stripe& s, std::int64_t now_ms) {
    if (++s.operations_since_sweep < std::max(s.entries_after_sweep, min_operations_between_sweeps)) return;
    sweep_expired(s, now_ms);
  }

  // Erases `s`'s expired entries now (the caller holds its mutex) and restarts its sweep count.
  // Returns the number erased.
  static std::size_t sweep_expired(stripe& s, std::int64_t now_ms) {
    const auto dropped = std::erase_if(s.entries, [now_ms](const auto& entry) { return entry.second.expired(now_ms); });
    s.operations_since_sweep = 0;
    s.entries_after_sweep = s.entries.size();
    return dropped;
  }

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
