// The exposed-credentials set at 100M keyed hashes: builds the file through the real builder
// (external sort) from synthetic pairs, then measures open time, warm lookups per CPU second on
// one thread against a raw std::lower_bound over the same mapping in the same run, and RSS
// before/after open and after the lookups. Targets: open < 1 s, >= 1M lookups/s per core,
// RSS after open not grown by the file size. Deletes the file at the end unless --keep 1 (which
// also reuses a file a previous --keep 1 run left, when it has the same entry count).
// Prints "<metric> <value>" lines.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "crypto/credential_hash.hpp"
#include "storage/lists/hash_set_builder.hpp"
#include "storage/lists/hash_set_file.hpp"

using namespace callsign;

namespace {

volatile std::uint64_t sink = 0;

using digest = crypto::credential_digest;

digest pair_hash(const crypto::credential_hasher& hasher, std::uint64_t i) {
  char user[48];
  char password[48];
  std::snprintf(user, sizeof user, "user%llu@example.com", static_cast<unsigned long long>(i));
  std::snprintf(password, sizeof password, "pw-%llu", static_cast<unsigned long long>(i * 7919 + 13));
  return hasher.hash(user, password);
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t entries = 100'000'000;
  double seconds = 3.0;
  std::string dir = "/tmp";
  std::size_t run_mb = 128;
  bool keep = false;  // --keep 1: leave the file for the next run, and reuse one left by --keep 1
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--entries") entries = std::strtoull(argv[i + 1], nullptr, 10);
    if (arg == "--seconds") seconds = std::strtod(argv[i + 1], nullptr);
    if (arg == "--dir") dir = argv[i + 1];
    if (arg == "--run-mb") run_mb = std::strtoull(argv[i + 1], nullptr, 10);
    if (arg == "--keep") keep = std::string(argv[i + 1]) == "1";
  }
  crypto::master_key master;
  master.version = 1;
  for (std::size_t i = 0; i < master.bytes.size(); ++i) master.bytes[i] = static_cast<std::uint8_t>(i * 31 + 7);
  const crypto::credential_hasher hasher(master);
  const std::filesystem::path path = std::filesystem::path(dir) / "callsign-cred-set-bench.set";

  const double b0 = bench::wall_seconds();
  bool reuse = false;
  if (keep) {
    const auto existing = storage::hash_set_file::open(path, storage::hash_set_kind::credentials);
    reuse = existing && existing->entries() == entries;
  }
  std::printf("reused_file %d\n", reuse ? 1 : 0);
  if (!reuse) {
    storage::hash_set_build_options options;
    options.kind = storage::hash_set_kind::credentials;
    options.key_id = hasher.key_id();
    options.run_bytes = run_mb << 20;
    auto builder = storage::hash_set_builder::create(path, options);
    if (!builder) return std::fprintf(stderr, "%s\n", builder.error().message.c_str()), 1;
    for (std::uint64_t i = 0; i < entries; ++i) {
      if (auto added = builder->add(pair_hash(hasher, i)); !added) {
        return std::fprintf(stderr, "%s\n", added.error().message.c_str()), 1;
      }
    }
    auto header = builder->finish();
    if (!header) return std::fprintf(stderr, "%s\n", header.error().message.c_str()), 1;
    std::printf("runs %zu\n", builder->runs_written());
  }
  const double b1 = bench::wall_seconds();

  // Queries (computed before the RSS baseline): half listed pairs, half unlisted.
  std::mt19937_64 rng(99);
  std::vector<digest> queries(1U << 20);
  for (std::size_t i = 0; i < queries.size(); ++i) {
    queries[i] = i % 2 == 0 ? pair_hash(hasher, rng() % entries) : pair_hash(hasher, entries + rng());
  }

  const std::uint64_t rss_before = bench::rss_kib();
  const double o0 = bench::wall_seconds();
  auto set = storage::hash_set_file::open(path, storage::hash_set_kind::credentials);
  const double o1 = bench::wall_seconds();
  if (!set) return std::fprintf(stderr, "%s\n", set.error().message.c_str()), 1;
  const std::uint64_t rss_open = bench::rss_kib();

  // The peer: its own read-only mapping of the same file, plain std::lower_bound by memcmp.
  const int fd = ::open(path.c_str(), O_RDONLY);
  const std::size_t size = std::filesystem::file_size(path);
  const auto* map = static_cast<const std::uint8_t*>(::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0));
  const auto* first = reinterpret_cast<const std::array<std::uint8_t, 16>*>(map + storage::hash_set_header_size);
  const auto* last = first + set->entries();
  auto peer_contains = [&](const digest& q) {
    const auto* it = std::lower_bound(first, last, q, [](const std::array<std::uint8_t, 16>& e, const digest& k) {
      return std::memcmp(e.data(), k.data(), 16) < 0;
    });
    return it != last && std::memcmp(it->data(), q.data(), 16) == 0;
  };

  std::uint64_t ours_hits = 0;
  std::uint64_t peer_hits = 0;
  for (const auto& q : queries) {
    ours_hits += set->contains(q) ? 1U : 0U;
    peer_hits += peer_contains(q) ? 1U : 0U;
  }
  if (ours_hits != peer_hits || ours_hits != queries.size() / 2) {
    std::fprintf(stderr, "cred_set_bench: wrong hits (%llu ours, %llu peer, want %zu)\n",
                 static_cast<unsigned long long>(ours_hits), static_cast<unsigned long long>(peer_hits),
                 queries.size() / 2);
    return 1;
  }
  const double ours = bench::per_cpu_second(seconds, queries.size(), [&] {
    std::uint64_t hits = 0;
    for (const auto& q : queries) hits += set->contains(q) ? 1U : 0U;
    sink = sink + hits;
  });
  const double peer = bench::per_cpu_second(seconds, queries.size(), [&] {
    std::uint64_t hits = 0;
    for (const auto& q : queries) hits += peer_contains(q) ? 1U : 0U;
    sink = sink + hits;
  });
  const std::uint64_t rss_after = bench::rss_kib();
  const std::uint64_t anon_after = bench::status_kib("RssAnon:");
  const std::uint64_t file_after = bench::status_kib("RssFile:");
  ::munmap(const_cast<std::uint8_t*>(map), size);
  ::close(fd);

  std::printf("entries %llu\n", static_cast<unsigned long long>(set->entries()));
  std::printf("file_bytes %zu\n", size);
  std::printf("build_seconds %.1f\n", b1 - b0);
  std::printf("open_seconds %.6f\n", o1 - o0);
  std::printf("rss_kib_before_open %llu\n", static_cast<unsigned long long>(rss_before));
  std::printf("rss_kib_after_open %llu\n", static_cast<unsigned long long>(rss_open));
  std::printf("rss_kib_after_lookups %llu\n", static_cast<unsigned long long>(rss_after));
  std::printf("rss_anon_kib_after_lookups %llu\n", static_cast<unsigned long long>(anon_after));
  std::printf("rss_file_kib_after_lookups %llu\n", static_cast<unsigned long long>(file_after));
  std::printf("set_lookups_per_second %.0f\n", ours);
  std::printf("lower_bound_lookups_per_second %.0f\n", peer);
  if (!keep) std::filesystem::remove(path);
  return 0;
}
