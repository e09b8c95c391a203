// The login counts contract (support/login_counts_contract_cases.hpp) over the embedded backend
// (storage/embedded_login_counts.hpp) on RocksDB-backed counters and on the in-memory fake
// counters, each counted through embedded_login_attempts; plus what only the embedded backend
// promises: it answers inline, and a count only on disk since a restart is read.
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>
#include <memory>
#include <optional>
#include <vector>

#include "storage/database.hpp"
#include "storage/embedded_attempts.hpp"
#include "storage/embedded_blocks.hpp"
#include "storage/embedded_login_counts.hpp"
#include "storage/embedded_rate_counters.hpp"
#include "support/memory_state_backend.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;

namespace {

std::unique_ptr<storage::database> open_counts_db(const test::temp_directory& dir) {
  auto db = storage::database::open({dir.path() / "db", true});
  BOOST_REQUIRE(db);
  return std::move(db).value();
}

template <class Counters>
struct counts_backend {
  test::temp_directory dir;
  std::unique_ptr<storage::database> db = open_counts_db(dir);
  std::unique_ptr<Counters> counters = make();
  std::unique_ptr<storage::embedded_blocks> blocks = [this] {
    auto opened = storage::embedded_blocks::open(*db, 1'700'000'000'000);
    BOOST_REQUIRE(opened);
    return std::move(opened).value();
  }();
  storage::embedded_login_attempts logins{*counters, *blocks};
  storage::embedded_login_counts counts{*counters};

  std::unique_ptr<Counters> make() {
    if constexpr (std::is_same_v<Counters, storage::embedded_rate_counters>) {
      return std::make_unique<Counters>(*db);
    } else {
      return std::make_unique<Counters>();
    }
  }

  storage::login_attempt_result record(const storage::login_attempt& attempt) {
    storage::change_set changes;
    std::optional<result<storage::login_attempt_result>> answered;
    logins.record(attempt, changes, [&](result<storage::login_attempt_result> r) { answered = std::move(r); });
    BOOST_REQUIRE(answered.has_value());
    BOOST_REQUIRE(answered->has_value());
    if (!changes.ops.empty()) BOOST_REQUIRE(db->write(changes.ops));
    return **answered;
  }

  // The embedded backend answers read_inline every time, and read() before it returns, alike.
  result<void> read(std::int64_t now_ms, std::span<const storage::count_read> keys, std::span<double> out) {
    auto at_once = counts.read_inline(now_ms, keys, out);
    BOOST_REQUIRE(at_once.has_value());
    std::vector<double> again(out.size(), -1.0);
    std::optional<result<void>> answered;
    counts.read(now_ms, keys, std::span<double>(again), [&](result<void> r) { answered = std::move(r); });
    BOOST_REQUIRE(answered.has_value());
    BOOST_TEST(answered->has_value() == at_once->has_value());
    if (*answered) BOOST_TEST(std::vector<double>(out.begin(), out.end()) == again, boost::test_tools::per_element());
    return *at_once;
  }
};

using login_counts_backends =
    boost::mpl::list<counts_backend<storage::embedded_rate_counters>, counts_backend<test::memory_rate_counters>>;

}  // namespace

#include "support/login_counts_contract_cases.hpp"  // IWYU pragma: keep

BOOST_AUTO_TEST_CASE(embedded_counts_survive_a_restart) {
  using namespace callsign::test::login_counts_contract;
  test::temp_directory dir;
  const storage::rate_limit limit{5, 60'000};
  {
    auto db = open_counts_db(dir);
    storage::embedded_rate_counters counters(*db);
    auto blocks = storage::embedded_blocks::open(*db, t0);
    BOOST_REQUIRE(blocks);
    storage::embedded_login_attempts logins(counters, **blocks);
    for (int i = 0; i < 2; ++i) {
      storage::change_set changes;
      logins.record(failure(t0 + i, ip_counter, limit), changes,
                    [](result<storage::login_attempt_result> r) { BOOST_REQUIRE(r); });
      BOOST_REQUIRE(db->write(changes.ops));
    }
  }
  auto db = open_counts_db(dir);
  storage::embedded_rate_counters counters(*db);
  counters.started_at(t0 + 10);
  storage::embedded_login_counts counts(counters);
  const std::vector<storage::count_read> keys{{ip_counter, limit}};
  std::vector<double> out(1);
  bool answered = false;
  counts.read(t0 + 20, keys, out, [&](result<void> r) {
    BOOST_REQUIRE(r);
    answered = true;
  });
  BOOST_TEST(answered);
  BOOST_TEST(out[0] == 2.0);
}
