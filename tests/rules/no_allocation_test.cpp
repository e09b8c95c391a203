// After warm-up, rule_set::evaluate allocates nothing: the 100 benchmark rules against three
// request shapes, with every global operator new of this test binary counted on this thread.
#include <cstdlib>
#include <fstream>
#include <new>
#include <sstream>

#include "rules_support.hpp"

namespace {
thread_local std::size_t allocations = 0;
}  // namespace

// Counting replacements for the whole rules_tests binary (other tests only pay an increment).
// malloc/free pair up here; GCC's -Wmismatched-new-delete cannot see that through inlining.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t n) {
  ++allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  ++allocations;
  return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

using namespace callsign::rules;
using namespace callsign::rules::test;

BOOST_AUTO_TEST_SUITE(no_allocation)

BOOST_AUTO_TEST_CASE(evaluate_allocates_nothing_once_warm) {
  const char* source = std::getenv("CALLSIGN_SOURCE_DIR");
  BOOST_REQUIRE(source != nullptr);
  std::ifstream in(std::string(source) + "/tools/bench/rules_100.toml");
  std::stringstream text;
  text << in.rdbuf();
  auto s = file_ok(text.str());
  std::vector<request_fields> requests(3, browser_login());
  requests[0].host = "login.example.com";
  requests[1].ip_src = ip("203.0.113.9");
  requests[1].user_agent = "python-requests/2.31";
  requests[1].bot_score = 2;
  requests[2].bot_score.reset();
  requests[2].user_agent = std::string_view("MOZILLA/5.0 with a much longer user agent than the others, to grow buffers");
  decision d;
  for (const auto& f : requests) s->evaluate(f, d);  // warm-up: buffers, RE2 DFA states
  for (const auto& f : requests) s->evaluate(f, d);
  const std::size_t before = allocations;
  std::size_t decided = 0;
  for (int i = 0; i < 300; ++i) {
    for (const auto& f : requests) {
      s->evaluate(f, d);
      decided += d.act.has_value() ? 1U : 0U;
    }
  }
  const std::size_t during = allocations - before;
  BOOST_TEST(during == 0U);
  BOOST_TEST(decided > 0U);  // the loop did real work: some requests are decided
  // The counter counts: a vector that must grow is seen.
  const std::size_t probe = allocations;
  std::vector<int> v(100);
  BOOST_TEST(allocations > probe);
}

BOOST_AUTO_TEST_SUITE_END()
