#include "server/observability/metrics.hpp"

#include <boost/test/unit_test.hpp>
#include <string>
#include <utility>
#include <vector>

using namespace callsign::server;

BOOST_AUTO_TEST_SUITE(metrics_suite)

BOOST_AUTO_TEST_CASE(counts_by_route_method_status) {
  metrics m({"unmatched", "GET /healthz"});
  m.record_request(1, http_method::get, 200, 0.0007);
  m.record_request(1, http_method::get, 200, 0.3);
  m.record_request(0, http_method::post, 404, 0.0001);
  auto text = m.prometheus_text();
  BOOST_TEST(text.find("callsign_http_requests_total{route=\"GET /healthz\",method=\"GET\",status=\"200\"} 2\n") !=
             std::string::npos);
  BOOST_TEST(text.find("callsign_http_requests_total{route=\"unmatched\",method=\"POST\",status=\"404\"} 1\n") !=
             std::string::npos);
  // 0.0007 s falls in le=0.001 and above; 0.3 s only from le=0.5.
  BOOST_TEST(text.find("callsign_http_request_duration_seconds_bucket{route=\"GET /healthz\",le=\"0.0005\"} 0\n") !=
             std::string::npos);
  BOOST_TEST(text.find("callsign_http_request_duration_seconds_bucket{route=\"GET /healthz\",le=\"0.001\"} 1\n") !=
             std::string::npos);
  BOOST_TEST(text.find("callsign_http_request_duration_seconds_bucket{route=\"GET /healthz\",le=\"0.5\"} 2\n") !=
             std::string::npos);
  BOOST_TEST(text.find("callsign_http_request_duration_seconds_count{route=\"GET /healthz\"} 2\n") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(round_trips_per_route_are_a_histogram_of_exact_counts) {
  metrics m({"unmatched", "POST /v1/verify"});
  m.record_round_trips(1, 1);
  m.record_round_trips(1, 2);
  m.record_round_trips(1, 2);
  m.record_round_trips(1, 7);  // beyond the last bucket: only in +Inf, the sum and the count
  auto text = m.prometheus_text();
  const std::string series = "callsign_http_request_redis_round_trips";
  for (const auto& [line, what] : std::vector<std::pair<std::string, const char*>>{
           {series + "_bucket{route=\"POST /v1/verify\",le=\"0\"} 0\n", "le 0"},
           {series + "_bucket{route=\"POST /v1/verify\",le=\"1\"} 1\n", "le 1"},
           {series + "_bucket{route=\"POST /v1/verify\",le=\"2\"} 3\n", "le 2"},
           {series + "_bucket{route=\"POST /v1/verify\",le=\"3\"} 3\n", "le 3"},
           {series + "_bucket{route=\"POST /v1/verify\",le=\"+Inf\"} 4\n", "+Inf"},
           {series + "_sum{route=\"POST /v1/verify\"} 12\n", "sum"},
           {series + "_count{route=\"POST /v1/verify\"} 4\n", "count"}}) {
    BOOST_TEST(text.find(line) != std::string::npos, what);
  }
  BOOST_TEST(text.find(series + "_count{route=\"unmatched\"}") == std::string::npos);  // no request, no series
}

BOOST_AUTO_TEST_CASE(connection_gauge) {
  metrics m({"unmatched"});
  m.connection_opened();
  m.connection_opened();
  m.connection_closed();
  BOOST_TEST(m.prometheus_text().find("callsign_open_connections 1\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(stream_slow_consumer_counter) {
  metrics m({"unmatched"});
  BOOST_TEST(m.prometheus_text().find("callsign_stream_slow_consumer_closes_total 0\n") != std::string::npos);
  m.stream_slow_consumer_closed();
  m.stream_slow_consumer_closed();
  BOOST_TEST(m.prometheus_text().find("callsign_stream_slow_consumer_closes_total 2\n") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
