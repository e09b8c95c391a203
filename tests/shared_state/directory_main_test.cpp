#define BOOST_TEST_MODULE shared_state_directories
#include <boost/test/unit_test.hpp>
