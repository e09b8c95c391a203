#define BOOST_TEST_MODULE shared_state_tests
#include <boost/test/unit_test.hpp>

#include "redis_test_server.hpp"

namespace {
using redis_test_server = callsign::test::redis_test_server;
}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(redis_test_server);
