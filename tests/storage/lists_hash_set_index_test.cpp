// The set file's page index (format version 2): lookups against a std::set on random and
// edge-case contents (page boundaries, shared 8-byte prefixes across pages, extreme keys, tiny
// sets), and the index's corruption checks at open and in verify_checksum().
#include <algorithm>
#include <array>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "crypto/sha256.hpp"
#include "lists_test_support.hpp"
#include "storage/lists/hash_set_builder.hpp"
#include "storage/lists/hash_set_file.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using namespace callsign::storage;
namespace fs = std::filesystem;

namespace {

using entry = std::vector<std::uint8_t>;

fs::path build_set(const fs::path& out, hash_set_kind kind, const std::set<entry>& entries) {
  hash_set_build_options options;
  options.kind = kind;
  options.run_bytes = 64 * 1024;  // several runs through the merge for the larger sets
  auto builder = hash_set_builder::create(out, options);
  BOOST_TEST_REQUIRE(builder.has_value());
  for (const auto& e : entries) BOOST_TEST_REQUIRE(builder->add(e).has_value());
  auto header = builder->finish();
  BOOST_TEST_REQUIRE(header.has_value(), test::error_text(header));
  BOOST_TEST_REQUIRE(header->count == entries.size());
  return out;
}

entry random_entry(std::mt19937_64& rng, std::size_t width) {
  entry e(width);
  for (auto& b : e) b = static_cast<std::uint8_t>(rng());
  return e;
}

// The entry one above / below as a big-endian number (wrapping at the extremes).
entry step(entry e, bool up) {
  for (std::size_t i = e.size(); i-- > 0;) {
    if (up ? e[i]++ != 0xff : e[i]-- != 0x00) break;
  }
  return e;
}

// Every member, both neighbours of every member, and random entries give the same answer as
// the reference; returns how many queries were made.
std::size_t check_against_reference(const hash_set_file& set, const std::set<entry>& reference, std::size_t width,
                                    std::mt19937_64& rng) {
  std::size_t queries = 0;
  std::size_t wrong = 0;
  auto check = [&](const entry& q) {
    ++queries;
    if (set.contains(q) != (reference.count(q) != 0)) ++wrong;
  };
  for (const auto& e : reference) {
    check(e);
    check(step(e, true));
    check(step(e, false));
  }
  for (int i = 0; i < 2000; ++i) check(random_entry(rng, width));
  check(entry(width, 0x00));
  check(entry(width, 0xff));
  BOOST_TEST(wrong == 0U);
  return queries;
}

std::string file_bytes(const fs::path& path) { return test::read_text(path); }

}  // namespace

BOOST_AUTO_TEST_SUITE(lists_hash_set_index)

BOOST_AUTO_TEST_CASE(random_sets_around_page_boundaries_match_a_std_set) {
  test::temp_directory dir;
  std::mt19937_64 rng(11);
  // Page 0 holds (4096 - 128) / width entries, later pages 4096 / width.
  for (const hash_set_kind kind : {hash_set_kind::credentials, hash_set_kind::passwords}) {
    const std::size_t width = hash_set_entry_width(kind);
    const std::size_t first_page = (4096 - 128) / width;
    const std::size_t per_page = 4096 / width;
    for (const std::size_t count : {std::size_t{1}, first_page - 1, first_page, first_page + 1,
                                    first_page + per_page, first_page + per_page + 1, std::size_t{20000}}) {
      std::set<entry> reference;
      while (reference.size() < count) reference.insert(random_entry(rng, width));
      const auto path = build_set(dir.path() / ("r" + std::to_string(count) + ".set"), kind, reference);
      BOOST_TEST(fs::file_size(path) == hash_set_file_size(count, width));
      auto set = hash_set_file::open(path, kind);
      BOOST_TEST_REQUIRE(set.has_value(), test::error_text(set));
      BOOST_TEST(set->verify_checksum().has_value());
      BOOST_TEST(check_against_reference(*set, reference, width, rng) > 3 * count);
    }
  }
}

BOOST_AUTO_TEST_CASE(first_and_last_entries_of_every_page_are_found_and_their_gaps_are_not) {
  test::temp_directory dir;
  std::mt19937_64 rng(12);
  const std::size_t width = 16;
  std::set<entry> reference;
  while (reference.size() < 3000) reference.insert(random_entry(rng, width));
  const auto path = build_set(dir.path() / "pages.set", hash_set_kind::credentials, reference);
  auto set = hash_set_file::open(path, hash_set_kind::credentials);
  BOOST_TEST_REQUIRE(set.has_value(), test::error_text(set));
  const std::vector<entry> sorted(reference.begin(), reference.end());
  const std::uint64_t pages = hash_set_pages(sorted.size(), width);
  BOOST_TEST(pages == 12U);
  std::size_t checked = 0;
  for (std::uint64_t p = 0; p < pages; ++p) {
    const std::uint64_t first = hash_set_page_first_entry(p, width);
    const std::uint64_t end = p + 1 == pages ? sorted.size() : hash_set_page_first_entry(p + 1, width);
    for (const std::uint64_t i : {first, end - 1}) {
      BOOST_TEST(set->contains(sorted[i]));
      // Absent entries just outside the page's first and last entry (between two pages).
      for (const bool up : {true, false}) {
        const entry near = step(sorted[i], up);
        BOOST_TEST(set->contains(near) == (reference.count(near) != 0));
        ++checked;
      }
    }
  }
  BOOST_TEST(checked == 4 * pages);
  BOOST_TEST(set->contains(sorted.front()));
  BOOST_TEST(set->contains(sorted.back()));
}

BOOST_AUTO_TEST_CASE(entries_sharing_an_8_byte_prefix_across_pages) {
  test::temp_directory dir;
  std::mt19937_64 rng(13);
  std::set<entry> reference;
  // 700 entries with one prefix (they span several pages, so more than one page starts with
  // it), a run of entries with the next prefix, random ones around them, the extreme entries.
  const entry prefix = {0x80, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77};
  while (reference.size() < 700) {
    entry e = random_entry(rng, 16);
    std::copy(prefix.begin(), prefix.end(), e.begin());
    reference.insert(e);
  }
  for (int i = 0; i < 300; ++i) {
    entry e = random_entry(rng, 16);
    std::copy(prefix.begin(), prefix.end(), e.begin());
    e[7] = 0x78;
    reference.insert(e);
  }
  while (reference.size() < 1400) reference.insert(random_entry(rng, 16));
  reference.insert(entry(16, 0x00));
  reference.insert(entry(16, 0xff));
  const std::vector<entry> sorted(reference.begin(), reference.end());
  std::size_t pages_starting_with_prefix = 0;
  for (std::uint64_t p = 0; p < hash_set_pages(sorted.size(), 16); ++p) {
    const entry& first = sorted[hash_set_page_first_entry(p, 16)];
    pages_starting_with_prefix += std::equal(prefix.begin(), prefix.end(), first.begin()) ? 1U : 0U;
  }
  BOOST_TEST(pages_starting_with_prefix >= 2U);
  const auto path = build_set(dir.path() / "shared.set", hash_set_kind::credentials, reference);
  auto set = hash_set_file::open(path, hash_set_kind::credentials);
  BOOST_TEST_REQUIRE(set.has_value(), test::error_text(set));
  BOOST_TEST(set->verify_checksum().has_value());
  check_against_reference(*set, reference, 16, rng);
  // Absent entries with the shared prefix.
  std::size_t false_hits = 0;
  for (int i = 0; i < 5000; ++i) {
    entry e = random_entry(rng, 16);
    std::copy(prefix.begin(), prefix.end(), e.begin());
    if (reference.count(e) == 0 && set->contains(e)) ++false_hits;
  }
  BOOST_TEST(false_hits == 0U);
}

BOOST_AUTO_TEST_CASE(skewed_keys_still_found_when_interpolation_guesses_far_off) {
  // Not uniform hashes: prefixes i^4 crowd every page's entries towards its low end, so the
  // guess inside a page misses by more than the search window and the whole page is searched.
  test::temp_directory dir;
  std::mt19937_64 rng(17);
  for (const hash_set_kind kind : {hash_set_kind::credentials, hash_set_kind::passwords}) {
    const std::size_t width = hash_set_entry_width(kind);
    std::set<entry> reference;
    for (std::uint64_t i = 0; i < 4000; ++i) {
      const std::uint64_t prefix = i * i * i * i * 1000;
      entry e = random_entry(rng, width);
      for (std::size_t b = 0; b < 8; ++b) e[b] = static_cast<std::uint8_t>(prefix >> (56 - 8 * b));
      reference.insert(e);
    }
    const auto path = build_set(dir.path() / "skewed.set", kind, reference);
    auto set = hash_set_file::open(path, kind);
    BOOST_TEST_REQUIRE(set.has_value(), test::error_text(set));
    BOOST_TEST(set->verify_checksum().has_value());
    check_against_reference(*set, reference, width, rng);
  }
}

BOOST_AUTO_TEST_CASE(keys_crowded_into_one_radix_slot) {
  // 100,000 8-byte keys below 2^38: ~196 pages, 7 samples, all in the first slot of the radix
  // table over the samples' top bits, so find() counts them in its long-slot loop.
  test::temp_directory dir;
  std::mt19937_64 rng(18);
  std::set<entry> reference;
  for (std::uint64_t i = 0; i < 100000; ++i) {
    const std::uint64_t value = (i << 21) | (rng() & 0xfffff);
    entry e(8);
    for (std::size_t b = 0; b < 8; ++b) e[b] = static_cast<std::uint8_t>(value >> (56 - 8 * b));
    reference.insert(e);
  }
  const auto path = build_set(dir.path() / "crowded.set", hash_set_kind::passwords, reference);
  auto set = hash_set_file::open(path, hash_set_kind::passwords);
  BOOST_TEST_REQUIRE(set.has_value(), test::error_text(set));
  check_against_reference(*set, reference, 8, rng);
}

BOOST_AUTO_TEST_CASE(tiny_and_extreme_sets) {
  test::temp_directory dir;
  std::mt19937_64 rng(14);
  for (const hash_set_kind kind : {hash_set_kind::credentials, hash_set_kind::passwords}) {
    const std::size_t width = hash_set_entry_width(kind);
    for (const std::set<entry>& reference :
         {std::set<entry>{}, std::set<entry>{entry(width, 0x00)}, std::set<entry>{entry(width, 0xff)},
          std::set<entry>{entry(width, 0x00), entry(width, 0xff)}, std::set<entry>{random_entry(rng, width)}}) {
      const auto path = build_set(dir.path() / "tiny.set", kind, reference);
      BOOST_TEST(fs::file_size(path) == hash_set_file_size(reference.size(), width));
      auto set = hash_set_file::open(path, kind);
      BOOST_TEST_REQUIRE(set.has_value(), test::error_text(set));
      BOOST_TEST(set->verify_checksum().has_value());
      check_against_reference(*set, reference, width, rng);
      BOOST_TEST(!set->contains(entry(width + 1, 0x00)));  // wrong width
    }
  }
}

BOOST_AUTO_TEST_CASE(the_checksum_covers_entries_and_index) {
  test::temp_directory dir;
  std::mt19937_64 rng(15);
  std::set<entry> reference;
  while (reference.size() < 2000) reference.insert(random_entry(rng, 8));
  const auto path = build_set(dir.path() / "sum.set", hash_set_kind::passwords, reference);
  const std::string bytes = file_bytes(path);
  const auto header = decode_hash_set_header({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
  BOOST_TEST_REQUIRE(header.has_value(), test::error_text(header));
  const std::string body = bytes.substr(hash_set_header_size);
  BOOST_TEST(body.size() == 2000U * 8U + hash_set_pages(2000, 8) * 8U);
  BOOST_TEST((header->checksum == crypto::sha256(body)));
  // The stored index is the first 8 bytes of every page's first entry.
  const std::vector<entry> sorted(reference.begin(), reference.end());
  const std::size_t index_at = hash_set_index_offset(2000, 8);
  for (std::uint64_t p = 0; p < hash_set_pages(2000, 8); ++p) {
    const entry& first = sorted[hash_set_page_first_entry(p, 8)];
    BOOST_TEST(std::memcmp(bytes.data() + index_at + p * 8, first.data(), 8) == 0);
  }
}

BOOST_AUTO_TEST_CASE(a_corrupted_index_is_refused) {
  test::temp_directory dir;
  std::mt19937_64 rng(16);
  std::set<entry> reference;
  while (reference.size() < 3000) reference.insert(random_entry(rng, 16));
  const auto path = build_set(dir.path() / "good.set", hash_set_kind::credentials, reference);
  const std::string bytes = file_bytes(path);
  const std::size_t index_at = hash_set_index_offset(3000, 16);
  const std::uint64_t pages = hash_set_pages(3000, 16);

  auto open_message = [&](const std::string& name, const std::string& content) {
    test::write_text(dir.path() / name, content);
    auto opened = hash_set_file::open(dir.path() / name, hash_set_kind::credentials);
    return opened ? std::string() : opened.error().message;
  };
  auto verify_message = [&](const std::string& name, const std::string& content) {
    test::write_text(dir.path() / name, content);
    auto opened = hash_set_file::open(dir.path() / name, hash_set_kind::credentials);
    BOOST_TEST_REQUIRE(opened.has_value(), test::error_text(opened));
    auto verified = opened->verify_checksum();
    return verified ? std::string() : verified.error().message;
  };
  // Two index entries swapped: out of order, refused at open.
  std::string swapped = bytes;
  for (std::size_t i = 0; i < 8; ++i) std::swap(swapped[index_at + 8 * 3 + i], swapped[index_at + 8 * 4 + i]);
  const std::string order = open_message("swapped.set", swapped);
  BOOST_TEST(order.find("page index is out of order") != std::string::npos, order);
  // An ordered but wrong index entry opens (open reads no entry) but does not verify ...
  std::string nudged = bytes;
  nudged[index_at + 8 * 5 + 7] = static_cast<char>(nudged[index_at + 8 * 5 + 7] ^ 1);
  const std::string sum = verify_message("nudged.set", nudged);
  BOOST_TEST(sum.find("(corrupted)") != std::string::npos, sum);
  // ... even with the checksum recomputed over the bad index: the index check catches it.
  std::string resummed = nudged;
  hash_set_header header = *decode_hash_set_header({reinterpret_cast<const std::uint8_t*>(nudged.data()), 128});
  header.checksum = crypto::sha256(std::string_view(nudged).substr(hash_set_header_size));
  const auto encoded = encode_hash_set_header(header);
  std::copy(encoded.begin(), encoded.end(), resummed.begin());
  const std::string mismatch = verify_message("resummed.set", resummed);
  BOOST_TEST(mismatch.find("page index does not match") != std::string::npos, mismatch);
  // A missing or extra index entry changes the size.
  const std::string truncated = open_message("short-index.set", bytes.substr(0, bytes.size() - 8));
  BOOST_TEST(truncated.find("truncated") != std::string::npos, truncated);
  const std::string padded = open_message("long-index.set", bytes + std::string(8, '\xff'));
  BOOST_TEST(padded.find("truncated or padded") != std::string::npos, padded);
  BOOST_TEST(bytes.size() == index_at + pages * 8);
}

BOOST_AUTO_TEST_CASE(format_version_1_is_refused_with_a_rebuild_hint) {
  test::temp_directory dir;
  std::set<entry> reference = {entry(8, 0x42)};
  const auto path = build_set(dir.path() / "v2.set", hash_set_kind::passwords, reference);
  std::string bytes = file_bytes(path);
  // A version-1 file: no page index and reserved 0 where the page size now is.
  std::string v1 = bytes.substr(0, hash_set_index_offset(1, 8));
  v1[8] = 1;
  std::fill(v1.begin() + 20, v1.begin() + 24, '\0');
  test::write_text(dir.path() / "v1.set", v1);
  auto opened = hash_set_file::open(dir.path() / "v1.set", hash_set_kind::passwords);
  BOOST_TEST_REQUIRE(!opened.has_value());
  BOOST_TEST(opened.error().message.find("version 1") != std::string::npos, opened.error().message);
  BOOST_TEST(opened.error().message.find("rebuild") != std::string::npos, opened.error().message);
  std::string bad_page = bytes;
  bad_page[21] = 0x20;  // page size 8192
  test::write_text(dir.path() / "page.set", bad_page);
  auto refused = hash_set_file::open(dir.path() / "page.set", hash_set_kind::passwords);
  BOOST_TEST_REQUIRE(!refused.has_value());
  BOOST_TEST(refused.error().message.find("page size") != std::string::npos, refused.error().message);
}

BOOST_AUTO_TEST_SUITE_END()
