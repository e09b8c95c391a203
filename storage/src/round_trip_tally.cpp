#include "storage/round_trip_tally.hpp"

#include <utility>

namespace callsign::storage {
namespace {
thread_local round_trip_tally current;
}  // namespace

const round_trip_tally& current_round_trip_tally() noexcept {
  return current;
}

round_trip_scope::round_trip_scope(round_trip_tally tally) noexcept : previous_(std::exchange(current, std::move(tally))) {}

round_trip_scope::~round_trip_scope() {
  current = std::move(previous_);
}

}  // namespace callsign::storage
