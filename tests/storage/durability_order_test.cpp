// The fsync before each reply (docs/audit.md, docs/security.md): a session replies only when the
// group-commit writer completes its change, so every completion must come after a sync of the
// write-ahead log that covers the change's bytes. A RocksDB FileSystem
// (support/wal_probe_file_system.hpp) journals each WAL append and sync; each completion notes
// itself in the same journal, and the test checks the order. A SIGKILL test cannot show this:
// the page cache outlives the process.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "audit_test_support.hpp"
#include "support/wal_probe_file_system.hpp"

using namespace callsign;
using storage::column_family;
using test::wal_event;

namespace {

std::string marker(int n) {
  char text[32];
  std::snprintf(text, sizeof text, "durable-%06d", n);
  return text;
}

// Where a change's bytes are in the WAL: the file and the first offset past the marker.
struct wal_place {
  std::string file;
  std::uint64_t end = 0;
};

// The key and the value both hold the marker, a few bytes apart, so a WAL block boundary (which
// inserts a record header) can split at most one of them.
std::optional<wal_place> find_in_wal(const test::wal_probe_file_system& fs, const std::vector<wal_event>& events,
                                     const std::string& text) {
  std::vector<std::string> files;
  for (const auto& e : events) {
    if (e.what == wal_event::kind::append && std::find(files.begin(), files.end(), e.file) == files.end()) {
      files.push_back(e.file);
    }
  }
  for (const auto& file : files) {
    const auto at = fs.contents(file).find(text);
    if (at != std::string::npos) return wal_place{file, at + text.size()};
  }
  return std::nullopt;
}

// The index of the note `label`, or events.size().
std::size_t note_index(const std::vector<wal_event>& events, const std::string& label) {
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (events[i].what == wal_event::kind::note && events[i].label == label) return i;
  }
  return events.size();
}

// A database whose file I/O goes through the probe; the Env outlives the database.
struct probed_database {
  test::temp_directory dir;
  crypto::key_ring ring = test::fixed_key_ring();
  storage::manual_clock clock{std::chrono::system_clock::time_point(std::chrono::seconds(1700000000))};
  std::shared_ptr<test::wal_probe_file_system> fs = std::make_shared<test::wal_probe_file_system>();
  std::unique_ptr<rocksdb::Env> env = test::wal_probe_file_system::make_env(fs);
  std::unique_ptr<storage::database> db;

  probed_database() {
    storage::database_options options{dir.path() / "db", true};
    options.env = env.get();
    auto opened = storage::database::open(options);
    BOOST_TEST_REQUIRE(opened.has_value());
    db = std::move(opened).value();
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(durability_order)

BOOST_FIXTURE_TEST_CASE(every_completion_follows_a_wal_sync_covering_its_change, probed_database) {
  auto started = storage::group_commit_writer::start(*db, ring, clock, {});
  BOOST_TEST_REQUIRE(started.has_value());
  auto writer = std::move(started).value();

  // Several submitters at once, so groups hold more than one change.
  constexpr int threads = 4;
  constexpr int per_thread = 40;
  std::atomic<int> failed{0};
  std::vector<std::thread> submitters;
  for (int t = 0; t < threads; ++t) {
    submitters.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const std::string name = marker(t * per_thread + i);
        storage::change_set change = test::change_with(test::draft_for("subject"));
        change.put(column_family::users, name, name);
        std::promise<void> done;
        auto finished = done.get_future();
        // The completion is where a session resumes and builds its reply.
        writer->submit(std::move(change), [&, name](result<storage::commit_receipt> outcome) {
          fs->note(name);
          if (!outcome) failed.fetch_add(1);
          done.set_value();
        });
        finished.wait();
      }
    });
  }
  for (auto& s : submitters) s.join();
  writer->stop();
  BOOST_TEST_REQUIRE(failed.load() == 0);

  const auto events = fs->events();
  std::size_t syncs = 0;
  for (const auto& e : events) syncs += e.what == wal_event::kind::sync ? 1U : 0U;
  BOOST_TEST_MESSAGE(events.size() << " WAL events, " << syncs << " syncs");
  for (int n = 0; n < threads * per_thread; ++n) {
    const std::string name = marker(n);
    const std::size_t completed = note_index(events, name);
    BOOST_TEST_REQUIRE(completed < events.size(), name << " never completed");
    const auto place = find_in_wal(*fs, events, name);
    BOOST_TEST_REQUIRE(place.has_value(), name << " is in no WAL file");
    // The append that put the change's bytes there, then a sync of that file covering them,
    // both before the completion.
    std::size_t appended = events.size();
    for (std::size_t i = 0; i < events.size(); ++i) {
      const auto& e = events[i];
      if (e.what == wal_event::kind::append && e.file == place->file && e.begin < place->end && place->end <= e.end) {
        appended = i;
        break;
      }
    }
    BOOST_TEST_REQUIRE(appended < completed, name << " completed (event " << completed << ") before its WAL append ("
                                                   << appended << ")");
    bool covered = false;
    for (std::size_t i = appended + 1; i < completed && !covered; ++i) {
      const auto& e = events[i];
      covered = e.what == wal_event::kind::sync && e.file == place->file && e.end >= place->end;
    }
    BOOST_TEST_REQUIRE(covered, name << " completed before a WAL sync covered it");
  }
}

BOOST_AUTO_TEST_SUITE_END()
