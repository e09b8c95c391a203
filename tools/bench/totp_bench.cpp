// Single-thread throughput of TOTP codes (one fixed hmac_key, SHA1, 6 digits, varying times)
// and of phone tokens (per-user key derivation + code), per second of thread CPU time.
// Prints one "<metric> <value>" line per figure so tools/bench/totp can parse it.
#include <time.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "crypto/hmac_key.hpp"
#include "crypto/key_derivation.hpp"
#include "crypto/totp.hpp"

namespace {

using namespace callsign::crypto;

volatile std::uint64_t sink = 0;  // keeps the compiler from discarding the work

// CPU time of this thread: `openssl speed` also counts CPU time, not wall time, so the two
// figures stay comparable when other processes compete for the cores.
double thread_cpu_seconds() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

// Calls `one(i)` in batches until `seconds` of CPU time have passed; returns calls per second.
template <class Work>
double calls_per_second(double seconds, Work&& one) {
  for (std::uint64_t i = 0; i < 10'000; ++i) one(i);  // warm caches and the thread_local context
  const double start = thread_cpu_seconds();
  std::uint64_t calls = 0;
  double elapsed = 0;
  do {
    for (int i = 0; i < 4096; ++i) one(calls++);
    elapsed = thread_cpu_seconds() - start;
  } while (elapsed < seconds);
  return static_cast<double>(calls) / elapsed;
}

double bench_totp(double seconds) {
  constexpr std::string_view secret = "12345678901234567890";
  const auto key =
      hmac_key::create(hash_algorithm::sha1, {reinterpret_cast<const std::uint8_t*>(secret.data()), secret.size()});
  if (!key) std::abort();
  const totp_params params;  // SHA1, 6 digits, 30 s
  return calls_per_second(seconds, [&](std::uint64_t i) {
    const std::string code = totp_code(*key, params, 1'700'000'000 + static_cast<std::int64_t>(i) * 30);
    sink = sink + static_cast<std::uint64_t>(code[0]);
  });
}

double bench_phone_tokens(double seconds) {
  master_key master;
  master.version = 1;
  for (std::size_t i = 0; i < master.bytes.size(); ++i) {
    master.bytes[i] = static_cast<std::uint8_t>(i * 7 + 3);
  }
  const totp_params params;
  return calls_per_second(seconds, [&](std::uint64_t i) {
    std::array<char, 32> user{'u', 's', 'e', 'r', '-'};
    const auto end = std::to_chars(user.data() + 5, user.data() + user.size(), i % 100'000).ptr;
    const std::string token = phone_token(
        master, std::string_view(user.data(), static_cast<std::size_t>(end - user.data())), params, 1'700'000'000);
    sink = sink + static_cast<std::uint64_t>(token[0]);
  });
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2.0;
  std::string_view mode = "all";
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--seconds" && i + 1 < argc) {
      seconds = std::strtod(argv[++i], nullptr);
    } else if (arg == "--mode" && i + 1 < argc) {
      mode = argv[++i];
    } else {
      std::fprintf(stderr, "usage: totp_bench [--seconds S] [--mode totp|phone|all]\n");
      return arg == "--help" ? 0 : 2;
    }
  }
  if (!(seconds > 0) || (mode != "all" && mode != "totp" && mode != "phone")) {
    std::fprintf(stderr, "usage: totp_bench [--seconds S] [--mode totp|phone|all]\n");
    return 2;
  }
  if (mode != "phone") std::printf("totp_codes_per_second %.0f\n", bench_totp(seconds));
  if (mode != "totp") std::printf("phone_tokens_per_second %.0f\n", bench_phone_tokens(seconds));
  return 0;
}
