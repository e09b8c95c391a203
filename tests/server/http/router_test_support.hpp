// Helpers of the router_suite files (router_match_test.cpp, router_kinds_test.cpp) and
// pending_reply_race_test.cpp.
#pragma once

#include <string>
#include <utility>

#include "server/http/router.hpp"

namespace callsign::server::test_support {

inline http_response text_response(std::string body) {
  http_response r;
  r.body = std::move(body);
  return r;
}

inline http_request request(http_method method, std::string path) {
  http_request r;
  r.method = method;
  r.path = std::move(path);
  return r;
}

}  // namespace callsign::server::test_support
