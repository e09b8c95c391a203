// deadline_wheel (the lazy timer wheel) against a plain model: the same entries, the same
// due changes and the same sweeps must fire the same entries, each at most one tick late.
#include "server/timing/deadline_wheel.hpp"

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <random>
#include <thread>
#include <vector>

using namespace callsign::server;

namespace {

struct entry final : deadline_entry {
  int fired = 0;
  std::int64_t fired_at = -1;
  std::int64_t* clock = nullptr;
  std::shared_ptr<void> on_deadline() override {
    ++fired;
    fired_at = *clock;
    return nullptr;
  }
};

// What owns an entry in the server (a connection, a stream session): shared, its destructor
// removes the entry, and its on_deadline takes a strong reference to hand the work over. Here
// the owner's other reference is dropped while on_deadline runs, as when the posted work runs
// and the session ends on its I/O thread before the sweep's call returns.
struct owner : std::enable_shared_from_this<owner> {
  struct deadline final : deadline_entry {
    owner* self = nullptr;
    std::shared_ptr<void> on_deadline() override {
      auto keep = self->weak_from_this().lock();
      self->other_reference->reset();  // the session ended meanwhile: `keep` is the last one
      return keep;
    }
  };
  owner(deadline_wheel& wheel, std::shared_ptr<owner>* other, std::atomic<bool>* gone)
      : list(wheel), other_reference(other), destroyed(gone) {
    entry.self = this;
  }
  ~owner() {
    list.remove(entry);
    destroyed->store(true);
  }
  deadline_wheel& list;
  std::shared_ptr<owner>* other_reference;
  std::atomic<bool>* destroyed;
  deadline entry;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(deadline_wheel_tests)

BOOST_AUTO_TEST_CASE(a_sweep_visits_only_due_slots_and_fires_each_due_entry_once) {
  std::int64_t now = 1'000'000;
  deadline_wheel list(100, 16);
  entry a, b, c;
  for (auto* e : {&a, &b, &c}) e->clock = &now;
  list.add(a);
  list.add(b);
  list.add(c);
  BOOST_TEST(list.sweep(now) == 0U);
  a.set_due(now + 250);
  b.set_due(now + 100'000);  // beyond one turn of the wheel (1.6 s): parked in the furthest slot
  c.set_due(now + 50);
  now += 100;
  BOOST_TEST(list.sweep(now) == 1U);
  BOOST_TEST(c.fired == 1);
  BOOST_TEST(c.due() == deadline_entry::never);
  now += 100;
  BOOST_TEST(list.sweep(now) == 0U);
  now += 100;
  BOOST_TEST(list.sweep(now) == 1U);
  BOOST_TEST(a.fired == 1);
  for (int i = 0; i < 990; ++i) {  // 99 s in 100 ms steps: b is refiled each turn, not fired
    now += 100;
    BOOST_TEST_REQUIRE(list.sweep(now) == 0U);
  }
  now += 1'000;
  BOOST_TEST(list.sweep(now) == 1U);
  BOOST_TEST(b.fired == 1);
  BOOST_TEST(b.fired_at >= 1'100'000);
  BOOST_TEST(b.fired_at < 1'100'000 + 1'100);
  list.remove(a);
  list.remove(b);
  list.remove(c);
  BOOST_TEST(list.size() == 0U);
}

BOOST_AUTO_TEST_CASE(a_deadline_moved_earlier_is_refiled_and_one_moved_later_waits) {
  std::int64_t now = 50'000;
  deadline_wheel list(100, 64);
  entry e;
  e.clock = &now;
  list.add(e);
  list.sweep(now);
  e.set_due(now + 5'000);
  e.set_due(now + 200);  // earlier: must not wait for the 5 s slot
  now += 300;
  BOOST_TEST(list.sweep(now) == 1U);
  e.set_due(now + 100);
  e.set_due(now + 900);  // later: stays in the 100 ms slot, refiled there, fires at 900
  now += 200;
  BOOST_TEST(list.sweep(now) == 0U);
  now += 800;
  BOOST_TEST(list.sweep(now) == 1U);
  BOOST_TEST(e.fired == 2);
  list.remove(e);
  list.remove(e);  // idempotent
  e.set_due(now);  // not listed: nothing to refile, nothing fires
  now += 1'000;
  BOOST_TEST(list.sweep(now) == 0U);
}

BOOST_AUTO_TEST_CASE(a_long_gap_between_sweeps_still_fires_everything_due) {
  std::int64_t now = 0;
  deadline_wheel list(10, 8);
  std::vector<entry> entries(50);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    entries[i].clock = &now;
    list.add(entries[i]);
    entries[i].set_due(static_cast<std::int64_t>(i) * 7);
  }
  now = 10'000;  // many turns of the wheel later
  BOOST_TEST(list.sweep(now) == entries.size());
  for (auto& e : entries) list.remove(e);
}

BOOST_AUTO_TEST_CASE(random_schedules_match_a_plain_model) {
  std::mt19937_64 rng(20261126);
  constexpr std::int64_t tick = 100;
  deadline_wheel list(tick, 32);
  std::int64_t now = 7'000'000;
  std::vector<entry> entries(300);
  std::vector<std::int64_t> model(entries.size(), deadline_entry::never);
  std::vector<bool> listed(entries.size(), false);
  // When each entry became due as far as the list can know: its due, or the moment it was set
  // or added, if that was later (a due already in the past fires at the next ticks' sweep).
  std::vector<std::int64_t> due_since(entries.size(), deadline_entry::never);
  for (auto& e : entries) e.clock = &now;
  for (int round = 0; round < 3'000; ++round) {
    for (int k = 0; k < 5; ++k) {
      const auto i = static_cast<std::size_t>(rng() % entries.size());
      switch (rng() % 6) {
        case 0:
          if (!listed[i] && model[i] != deadline_entry::never) due_since[i] = std::max(model[i], now);
          list.add(entries[i]);
          listed[i] = true;
          break;
        case 1:
          list.remove(entries[i]);
          listed[i] = false;
          break;
        default: {
          const auto due = now + static_cast<std::int64_t>(rng() % 6'000) - 500;
          entries[i].set_due(due);
          model[i] = due;
          due_since[i] = std::max(due, now);
        }
      }
    }
    now += static_cast<std::int64_t>(rng() % 250);
    std::vector<int> before;
    for (auto& e : entries) before.push_back(e.fired);
    list.sweep(now);
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const bool fired = entries[i].fired != before[i];
      if (fired) {
        // Only listed entries fire, only once due, and their due is reset.
        BOOST_TEST_REQUIRE(listed[i]);
        BOOST_TEST_REQUIRE(model[i] <= now);
        BOOST_TEST_REQUIRE(entries[i].due() == deadline_entry::never);
        model[i] = deadline_entry::never;
      } else if (listed[i] && model[i] != deadline_entry::never) {
        // A listed entry not fired became due less than a tick and one sweep interval ago.
        BOOST_TEST_REQUIRE(due_since[i] > now - tick - 250);
      }
    }
  }
  for (auto& e : entries) list.remove(e);
  BOOST_TEST(list.size() == 0U);
}

// The hang of a SIGTERM in browser_dashboard_stream_end (session 19): the sweep held the wheel's
// lock while on_deadline dropped the last reference to a connection, whose destructor then waited
// for that same lock. The sweep now releases what on_deadline returns after its lock.
BOOST_AUTO_TEST_CASE(an_owner_whose_last_reference_a_deadline_drops_is_destroyed_after_the_lock) {
  const std::int64_t now = 1'000'000;
  deadline_wheel list(100, 16);
  std::atomic<bool> destroyed{false};
  auto held = std::make_shared<std::shared_ptr<owner>>();
  *held = std::make_shared<owner>(list, held.get(), &destroyed);
  list.add((*held)->entry);
  (*held)->entry.set_due(now - 1);
  BOOST_TEST(list.size() == 1U);

  // On a thread of its own, so that a deadlock fails the test instead of hanging it.
  auto swept = std::make_shared<std::promise<std::size_t>>();
  auto result = swept->get_future();
  std::thread([&list, now, swept] { swept->set_value(list.sweep(now)); }).detach();
  if (result.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    std::fprintf(stderr, "FAIL: the sweep deadlocked: an owner destroyed under the wheel's lock\n");
    std::_Exit(1);  // the stuck thread holds the lock and the owner: nothing can be cleaned up
  }
  BOOST_TEST(result.get() == 1U);
  BOOST_TEST(destroyed.load());
  BOOST_TEST(list.size() == 0U);
  BOOST_TEST(*held == nullptr);
}

BOOST_AUTO_TEST_SUITE_END()
