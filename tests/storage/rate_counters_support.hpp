// What the embedded_rate_counters tests share (rate_counters_test.cpp,
// rate_counters_preload_test.cpp): the window, the clock's start, a database in a temp dir, and a
// record put behind the counters' back.
#pragma once

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "storage/database.hpp"
#include "storage/rate_window.hpp"
#include "storage/shared_state_format.hpp"
#include "support/temp_directory.hpp"

namespace callsign::test::rate_counters {

inline constexpr std::int64_t window = 60'000;
inline constexpr std::int64_t start = 1'200'000;
// Counted exactly (a log of times).
inline constexpr storage::rate_limit five{5, window};

inline std::unique_ptr<storage::database> open_db(const temp_directory& dir) {
  auto db = storage::database::open({dir.path() / "db", true});
  BOOST_REQUIRE(db);
  return std::move(*db);
}

// Three events at `at` on `key`, stored directly (nothing in callsignd does this): whether a
// later count sees them tells whether a miss read the disk.
inline void sneak(storage::database& db, const std::string& key, std::int64_t at) {
  auto window_state = storage::rate_window::empty(five, at);
  window_state.add(3, at);
  BOOST_REQUIRE(db.put(storage::column_family::counters, storage::sliding_window_record_key(key),
                       storage::encode_rate_window(window_state)));
}

}  // namespace callsign::test::rate_counters
