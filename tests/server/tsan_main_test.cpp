// tsan_tests (./tools/tsan): the unit tests whose concurrency is our own code's, built with
// ThreadSanitizer. The suites are the same files server_tests and storage_tests run.
#define BOOST_TEST_MODULE tsan
#include <boost/test/unit_test.hpp>
