// The attempts contract (support/attempts_contract_cases.hpp) over the Redis backends
// (shared_state/redis_attempts.hpp) on a real redis-server: every shared case, through the
// blocking test client and through the production client (redis/). The embedded
// backend's cold-key case (a key only on disk moves the attempt to the blocking pool) has no
// Redis counterpart and stays in tests/storage/attempts_contract_test.cpp.
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>

#include "redis_backend_fixture.hpp"

namespace {
using attempt_backends =
    boost::mpl::list<callsign::test::redis_backend, callsign::test::production_redis_backend>;
}  // namespace

#include "support/attempts_contract_cases.hpp"  // IWYU pragma: keep
