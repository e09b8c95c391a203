// Cross-checks TOTP against Debian's oathtool, an independent implementation, over random
// secrets, times, algorithms, digit counts, periods and T0 values. All cases run in one
// shell script through one popen, so the test costs one process tree, not one per case.
#include <unistd.h>

#include <array>
#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "crypto/hex.hpp"
#include "crypto/hotp.hpp"
#include "crypto/totp.hpp"

using namespace callsign::crypto;

namespace {

struct totp_case {
  std::vector<std::uint8_t> secret;
  totp_params params;
  std::int64_t time = 0;
};

std::string oathtool_mode(hash_algorithm algorithm) {
  return std::string(name(algorithm));  // oathtool accepts SHA1 / SHA256 / SHA512
}

// Runs `command` through the shell and returns its standard output.
std::string run(const std::string& command) {
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  BOOST_TEST_REQUIRE(pipe != nullptr, "popen failed for: " << command);
  std::array<char, 4096> buffer{};
  std::size_t got = 0;
  while ((got = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output.append(buffer.data(), got);
  const int status = ::pclose(pipe);
  BOOST_TEST_REQUIRE(status == 0, "command failed (status " << status << "): " << command);
  return output;
}

void require_oathtool() {
  const std::string found = run("command -v oathtool || true");
  BOOST_TEST_REQUIRE(!found.empty(),
                     "oathtool is not installed, so TOTP cannot be cross-checked. "
                     "Install it (Debian: apt-get install oathtool) and rerun.");
}

std::vector<totp_case> random_cases(std::uint64_t seed, std::size_t count) {
  std::mt19937_64 random(seed);
  auto uniform = [&](std::int64_t low, std::int64_t high) {
    return std::uniform_int_distribution<std::int64_t>(low, high)(random);
  };
  constexpr std::array<hash_algorithm, 3> algorithms{hash_algorithm::sha1, hash_algorithm::sha256,
                                                     hash_algorithm::sha512};
  std::vector<totp_case> cases;
  for (std::size_t i = 0; i < count; ++i) {
    totp_case c;
    c.secret.resize(static_cast<std::size_t>(uniform(10, 64)));
    for (auto& byte : c.secret) byte = static_cast<std::uint8_t>(uniform(0, 255));
    c.params.algorithm = algorithms[i % algorithms.size()];
    c.params.digits = static_cast<int>(6 + (i / 3) % 3);
    c.params.period = i % 5 == 0 ? 30 : uniform(1, 300);
    c.params.t0 = i % 4 == 0 ? 0 : uniform(0, 2'000'000'000);
    switch (i % 4) {
      case 0:
        c.time = c.params.t0 + uniform(0, 4'000'000'000);
        break;  // around now
      case 1:
        c.time = c.params.t0 + uniform(0, 250'000'000'000);
        break;  // up to year ~9900
      case 2:   // exactly on a step boundary, or one second before it
        c.time = c.params.t0 + c.params.period * uniform(1, 100'000'000) - uniform(0, 1);
        break;
      default:
        c.time = c.params.t0 + uniform(0, c.params.period * 3);
        break;  // first steps
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

std::uint64_t test_seed() {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read once, before any thread starts
  if (const char* text = std::getenv("CALLSIGN_TEST_SEED")) return std::strtoull(text, nullptr, 0);
  return 0x5eed'ca11'5197'0001ULL;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(oathtool_cross_check_tests)

BOOST_AUTO_TEST_CASE(totp_matches_oathtool) {
  require_oathtool();
  const std::uint64_t seed = test_seed();
  BOOST_TEST_MESSAGE("oathtool cross-check seed " << seed << " (set CALLSIGN_TEST_SEED to vary)");
  const std::vector<totp_case> cases = random_cases(seed, 240);

  // One line of output per case; "FAILED" keeps lines aligned if oathtool rejects one.
  std::ostringstream script;
  for (const totp_case& c : cases) {
    script << "oathtool --totp=" << oathtool_mode(c.params.algorithm) << " --digits=" << c.params.digits
           << " --time-step-size=" << c.params.period << "s"
           << " --start-time=@" << c.params.t0 << " --now=@" << c.time << ' ' << hex_encode(c.secret)
           << " || echo FAILED\n";
  }
  std::string dir = (std::filesystem::temp_directory_path() / "callsign-oathtool-XXXXXX").string();
  BOOST_TEST_REQUIRE(::mkdtemp(dir.data()) != nullptr);
  const std::string script_path = dir + "/cases.sh";
  std::ofstream(script_path) << script.str();

  std::istringstream output(run("sh " + script_path));
  std::remove(script_path.c_str());
  ::rmdir(dir.c_str());

  std::size_t checked = 0;
  for (const totp_case& c : cases) {
    std::string expected;
    BOOST_TEST_REQUIRE(static_cast<bool>(std::getline(output, expected)), "oathtool output ended early");
    const auto key = hmac_key::create(c.params.algorithm, c.secret);
    BOOST_TEST_REQUIRE(key.has_value());
    BOOST_TEST(totp_code(*key, c.params, c.time) == expected,
               name(c.params.algorithm) << " digits=" << c.params.digits << " period=" << c.params.period << " t0="
                                        << c.params.t0 << " time=" << c.time << " secret bytes=" << c.secret.size());
    ++checked;
  }
  BOOST_TEST(checked == cases.size());
}

// HOTP too (oathtool's default mode), over consecutive counters via --window.
BOOST_AUTO_TEST_CASE(hotp_matches_oathtool) {
  require_oathtool();
  const std::vector<std::uint8_t> secret{0x3b, 0x9a, 0x11, 0x07, 0xc2, 0x5d, 0x80,
                                         0xfe, 0x42, 0x19, 0x6e, 0xd3, 0x01, 0x77};
  const std::uint64_t start = 4'294'967'290;  // crosses the 32-bit boundary
  const std::string output =
      run("oathtool --hotp --digits=8 --window=19 --counter=" + std::to_string(start) + " " + hex_encode(secret));
  const auto key = hmac_key::create(hash_algorithm::sha1, secret);
  BOOST_TEST_REQUIRE(key.has_value());
  std::istringstream lines(output);
  std::string expected;
  std::uint64_t counter = start;
  while (std::getline(lines, expected)) {
    BOOST_TEST(hotp_code(*key, counter, 8) == expected, "counter " << counter);
    ++counter;
  }
  BOOST_TEST(counter == start + 20);
}

BOOST_AUTO_TEST_SUITE_END()
