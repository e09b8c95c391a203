// Per-second counts for the last hour, for the admin console's live charts (docs/admin-console.md).
// Fed by sampling cumulative counters once a second, so the request path gets no hooks: each tick
// stores the delta of every counter since the previous tick.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace callsign::server {

// The seconds a series remembers (one hour).
inline constexpr std::size_t live_series_seconds = 3600;

// What a new subscriber is sent first: every series' counts for seconds start .. start+seconds-1.
struct live_history {
  std::int64_t start = 0;
  std::size_t seconds = 0;
  std::map<std::string, std::vector<std::uint32_t>> series;  // each holds `seconds` counts
};

// One tick: the counts of unix second `t`.
struct live_tick {
  std::int64_t t = 0;
  std::vector<std::pair<std::string, std::uint64_t>> values;  // by name
};

// Thread-safety: every member may be called from any thread (one internal mutex). The readers
// passed to add and add_dynamic are called under that mutex, from tick().
class live_series {
 public:
  using cumulative_reader = std::function<std::uint64_t()>;
  using dynamic_reader = std::function<void(std::vector<std::pair<std::string, std::uint64_t>>&)>;

  // A fixed series: `read` returns a counter that only grows (a decrease is read as a reset).
  void add(std::string name, cumulative_reader read);
  // Series that come and go (per-rule hits): `read_all` appends (name, cumulative count) pairs.
  // A name not reported for a whole hour is dropped; reported again, it starts from zero.
  void add_dynamic(dynamic_reader read_all);

  // Samples every counter and stores the deltas as the counts of unix second `t`. Seconds skipped
  // since the last tick are stored as zeros (the delta goes to `t`). A `t` not after the last
  // tick stores nothing and returns false: its deltas go to the next later second.
  bool tick(std::int64_t t);

  // Before the first tick: the fixed series' names with no seconds.
  live_history snapshot() const;
  // The counts of the last tick (t = 0 before the first tick).
  live_tick last_tick() const;

 private:
  struct series {
    std::vector<std::uint32_t> ring = std::vector<std::uint32_t>(live_series_seconds, 0);
    std::uint64_t last_cumulative = 0;
    bool sampled = false;            // last_cumulative holds a reading
    std::int64_t last_reported = 0;  // dynamic: the last tick that reported it
    bool dynamic = false;
  };

  void store(series& s, std::int64_t t, std::uint64_t cumulative);

  mutable std::mutex mutex_;
  std::vector<std::pair<std::string, cumulative_reader>> fixed_;
  std::vector<dynamic_reader> dynamic_;
  std::map<std::string, series> series_;
  std::int64_t first_ = 0;  // the first second held (0: no tick yet)
  std::int64_t last_ = 0;   // the last tick's second
  live_tick last_tick_;
};

// The encoded stream messages (docs/admin-console.md):
// {"type":"history","start":S,"seconds":N,"series":{"name":[c0,c1,...],...}}
std::string live_history_message(const live_history& history);
// {"type":"tick","t":S,"values":{"name":c,...}}
std::string live_tick_message(const live_tick& tick);

}  // namespace callsign::server
