// The user and authenticator directory contract (tests/support/user_directory_contract_cases.hpp)
// over the Redis backend, against a real redis-server per case.
#include <boost/mpl/list.hpp>

#include "directory_test_support.hpp"

using user_directory_contract_backends = boost::mpl::list<callsign::test::redis_directories>;

#include "support/user_directory_contract_cases.hpp"
