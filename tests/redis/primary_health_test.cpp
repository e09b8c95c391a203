// The primary link's health checks as plain functions (redis/src/primary_health.hpp): reading an
// INFO field, refusing any maxmemory-policy but noeviction, and naming a refused write by its
// error code only.
#include <boost/test/unit_test.hpp>

#include "primary_health.hpp"

using namespace callsign::redis;

namespace {
reply bulk(std::string text) { return reply{reply::kind::string, 0, std::move(text), {}}; }
reply error_reply(std::string text) { return reply{reply::kind::error, 0, std::move(text), {}}; }
}  // namespace

BOOST_AUTO_TEST_SUITE(primary_health_suite)

BOOST_AUTO_TEST_CASE(info_fields_are_read_by_whole_name) {
  const std::string info = "# Memory\r\nused_memory:1024\r\nmaxmemory:0\r\nmaxmemory_policy:noeviction\r\n";
  BOOST_TEST(info_field(info, "maxmemory").value_or("?") == "0");  // not maxmemory_policy's line
  BOOST_TEST(info_field(info, "maxmemory_policy").value_or("?") == "noeviction");
  BOOST_TEST(info_field(info, "used_memory").value_or("?") == "1024");
  BOOST_TEST(!info_field(info, "memory").has_value());
  BOOST_TEST(!info_field(info, "run_id").has_value());
  BOOST_TEST(info_field("run_id:abc", "run_id").value_or("?") == "abc");  // the last line, no CRLF
}

BOOST_AUTO_TEST_CASE(only_noeviction_is_accepted) {
  BOOST_TEST(eviction_problem(bulk("maxmemory:0\r\nmaxmemory_policy:noeviction\r\n")).empty());
  for (const char* policy : {"allkeys-lru", "volatile-lru", "allkeys-lfu", "volatile-lfu", "allkeys-random",
                             "volatile-random", "volatile-ttl"}) {
    const auto problem = eviction_problem(bulk(std::string("maxmemory_policy:") + policy + "\r\n"));
    BOOST_TEST(problem.find(std::string("maxmemory-policy is ") + policy) == 0, problem);
    BOOST_TEST(problem.find("callsign needs noeviction") != std::string::npos, problem);
  }
  BOOST_TEST(!eviction_problem(bulk("# Memory\r\nused_memory:1\r\n")).empty());  // silent about it
  BOOST_TEST(eviction_problem(error_reply("NOPERM this user has no permissions")) == "INFO memory refused (NOPERM)");
  BOOST_TEST(!eviction_problem(reply{}).empty());  // nil
}

BOOST_AUTO_TEST_CASE(a_refused_write_is_named_by_its_code_alone) {
  BOOST_TEST(write_refusal(reply{reply::kind::status, 0, "OK", {}}).empty());
  BOOST_TEST(write_refusal(error_reply("OOM command not allowed when used memory > 'maxmemory'.")).find("out of memory") == 0);
  BOOST_TEST(write_refusal(error_reply("NOREPLICAS Not enough good replicas to write.")).find("too few replicas") == 0);
  const auto other = write_refusal(error_reply("ERR secret-argument-9931 was bad"));
  BOOST_TEST(other == "refused (ERR)");
}

BOOST_AUTO_TEST_SUITE_END()
