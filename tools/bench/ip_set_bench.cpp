// The open-proxy IP set at 1M mixed IPv4/IPv6 prefixes: lookups per CPU second on one thread
// against a plain std::upper_bound over the same merged intervals (no bucket index) in the
// same run, and the time to parse + build + atomically swap a 1M-line list.
// Targets: >= 20M lookups/s per core, parse + build + swap < 1 s. Prints "<metric> <value>".
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "bench_support.hpp"
#include "storage/lists/ip_set_parser.hpp"

using namespace callsign;
using namespace callsign::storage;

namespace {

volatile std::uint64_t sink = 0;

std::string v4_text(std::uint32_t v) {
  return std::to_string(v >> 24) + "." + std::to_string((v >> 16) & 255) + "." + std::to_string((v >> 8) & 255) +
         "." + std::to_string(v & 255);
}

std::string v6_text(uint128 v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%x:%x:%x:%x:%x:%x:%x:%x", static_cast<unsigned>(v >> 112) & 0xffff,
                static_cast<unsigned>(v >> 96) & 0xffff, static_cast<unsigned>(v >> 80) & 0xffff,
                static_cast<unsigned>(v >> 64) & 0xffff, static_cast<unsigned>(v >> 48) & 0xffff,
                static_cast<unsigned>(v >> 32) & 0xffff, static_cast<unsigned>(v >> 16) & 0xffff,
                static_cast<unsigned>(v) & 0xffff);
  return buf;
}

// "/len" unless it is the full length, then the line end.
void append_length(std::string& text, unsigned len, unsigned full) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "/%u", len);
  if (len != full) text += buf;
  text += '\n';
}

// The peer: the same merged intervals, searched with std::upper_bound over the whole array.
template <class T>
struct plain_intervals {
  std::vector<T> lo, hi;
  void build(std::vector<std::pair<T, T>> r) {
    std::sort(r.begin(), r.end());
    for (const auto& [a, b] : r) {
      if (!lo.empty() && (a <= hi.back() || a == hi.back() + 1)) {
        hi.back() = std::max(hi.back(), b);
      } else {
        lo.push_back(a);
        hi.push_back(b);
      }
    }
  }
  bool contains(T x) const {
    const auto it = std::upper_bound(lo.begin(), lo.end(), x);
    if (it == lo.begin()) return false;
    return x <= hi[static_cast<std::size_t>(it - lo.begin()) - 1];
  }
};

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2.0;
  std::size_t prefixes_n = 1'000'000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--seconds") seconds = std::strtod(argv[i + 1], nullptr);
    if (arg == "--prefixes") prefixes_n = std::strtoull(argv[i + 1], nullptr, 10);
  }
  std::mt19937_64 rng(20240601);
  // 70% IPv4 (mostly /32 like proxy lists, some /24../16 like netsets), 30% IPv6 in 2000::/3.
  std::string text = "# synthetic list\n";
  std::vector<std::pair<std::uint32_t, std::uint32_t>> v4_ranges;
  std::vector<std::pair<uint128, uint128>> v6_ranges;
  std::vector<ip_address> members;
  for (std::size_t i = 0; i < prefixes_n; ++i) {
    if (i % 10 < 7) {
      const auto v = static_cast<std::uint32_t>(rng());
      const unsigned len = rng() % 10 < 8 ? 32U : 16U + static_cast<unsigned>(rng() % 9);
      text += v4_text(v);
      append_length(text, len, 32);
      const std::uint32_t host = len == 32 ? 0U : (~0U >> len);
      v4_ranges.emplace_back(v & ~host, v | host);
      ip_address a;
      a.v4_value = v;
      members.push_back(a);
    } else {
      const uint128 v = (uint128{0x2000'0000'0000'0000ULL | (rng() >> 3)} << 64) | rng();
      const unsigned len = rng() % 2 == 0 ? 128U : 32U + static_cast<unsigned>(rng() % 33);
      text += v6_text(v);
      append_length(text, len, 128);
      const uint128 host = len == 128 ? uint128{0} : (~uint128{0} >> len);
      v6_ranges.emplace_back(v & ~host, v | host);
      ip_address a;
      a.v6 = true;
      a.v6_value = v;
      members.push_back(a);
    }
  }

  // Reload path: parse the text, build, swap into an atomic snapshot pointer.
  std::atomic<std::shared_ptr<const ip_set>> current(std::make_shared<const ip_set>());
  const double c0 = bench::thread_cpu_seconds();
  const double t0 = bench::wall_seconds();
  auto parsed = parse_ip_set(text);
  if (!parsed) {
    std::fprintf(stderr, "ip_set_bench: %s\n", parsed.error().message.c_str());
    return 1;
  }
  const double t1 = bench::wall_seconds();
  current.store(std::make_shared<const ip_set>(std::move(parsed).value()));
  const double t2 = bench::wall_seconds();
  const double c2 = bench::thread_cpu_seconds();
  const auto set = current.load();

  // Queries: half members, half random addresses (mostly misses), 70/30 v4/v6.
  std::vector<ip_address> queries;
  for (std::size_t i = 0; i < (1U << 22); ++i) {
    if (i % 2 == 0) {
      queries.push_back(members[rng() % members.size()]);
    } else if (i % 10 < 7) {
      ip_address a;
      a.v4_value = static_cast<std::uint32_t>(rng());
      queries.push_back(a);
    } else {
      ip_address a;
      a.v6 = true;
      a.v6_value = (uint128{0x2000'0000'0000'0000ULL | (rng() >> 3)} << 64) | rng();
      queries.push_back(a);
    }
  }
  plain_intervals<std::uint32_t> peer4;
  plain_intervals<uint128> peer6;
  peer4.build(v4_ranges);
  peer6.build(v6_ranges);

  std::uint64_t ours_hits = 0;
  std::uint64_t peer_hits = 0;
  for (const auto& q : queries) {
    ours_hits += set->contains(q) ? 1U : 0U;
    peer_hits += (q.v6 ? peer6.contains(q.v6_value) : peer4.contains(q.v4_value)) ? 1U : 0U;
  }
  if (ours_hits != peer_hits) {
    std::fprintf(stderr, "ip_set_bench: ip_set and the peer disagree (%llu vs %llu hits)\n",
                 static_cast<unsigned long long>(ours_hits), static_cast<unsigned long long>(peer_hits));
    return 1;
  }
  const double ours = bench::per_cpu_second(seconds, queries.size(), [&] {
    std::uint64_t hits = 0;
    for (const auto& q : queries) hits += set->contains(q) ? 1U : 0U;
    sink = sink + hits;
  });
  const double peer = bench::per_cpu_second(seconds, queries.size(), [&] {
    std::uint64_t hits = 0;
    for (const auto& q : queries) hits += (q.v6 ? peer6.contains(q.v6_value) : peer4.contains(q.v4_value)) ? 1U : 0U;
    sink = sink + hits;
  });
  std::printf("prefixes %zu\n", prefixes_n);
  std::printf("v4_intervals %zu\n", set->v4_intervals());
  std::printf("v6_intervals %zu\n", set->v6_intervals());
  std::printf("hit_fraction %.3f\n", static_cast<double>(ours_hits) / static_cast<double>(queries.size()));
  std::printf("parse_build_seconds %.3f\n", t1 - t0);
  std::printf("swap_seconds %.6f\n", t2 - t1);
  std::printf("parse_build_swap_cpu_seconds %.3f\n", c2 - c0);
  std::printf("ip_set_lookups_per_second %.0f\n", ours);
  std::printf("upper_bound_lookups_per_second %.0f\n", peer);
  return 0;
}
