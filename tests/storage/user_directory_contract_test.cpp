// The user and authenticator directory contract (tests/support/user_directory_contract_cases.hpp)
// over the embedded backend (RocksDB and the group-commit writer) and the in-memory fake.
#include <boost/mpl/list.hpp>

#include "storage/user_directory_test_support.hpp"
#include "support/memory_user_directory.hpp"

namespace {
struct memory_backend {
  callsign::test::memory_user_directory fake;
  callsign::storage::user_directory& users = fake;
  callsign::storage::authenticator_directory& authenticators = fake;
};
}  // namespace

using user_directory_contract_backends = boost::mpl::list<callsign::test::embedded_directories, memory_backend>;

#include "support/user_directory_contract_cases.hpp"
