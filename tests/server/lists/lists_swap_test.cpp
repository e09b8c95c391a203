// List swaps under concurrent reads (docs/lists.md: "a request sees the old lists or the new
// ones, never a mix"). Uploads swap open_proxies and reloads swap managed_devices while reader
// threads take and hold snapshots. Every version of a list has its own entries, so a reader can
// tell which version it holds: exactly one, complete, and no older than the one it saw before;
// a held snapshot keeps answering the same after later swaps. ./tools/tsan runs this under
// ThreadSanitizer, which also checks the swap's memory ordering.
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "server/config/config.hpp"
#include "server/lists/list_registry.hpp"
#include "support/temp_directory.hpp"

using namespace callsign;
using namespace callsign::server;
namespace fs = std::filesystem;

namespace {

constexpr int versions = 30;      // per list, counting the first
constexpr int entries_per_version = 6;

std::string proxy(int version, int i) {
  return "10." + std::to_string(version) + "." + std::to_string(i) + ".1";
}
std::string device(int version, int i) {
  return "DEV-" + std::to_string(version) + "-" + std::to_string(i);
}
std::string proxies_text(int version) {
  std::string text = "# version " + std::to_string(version) + "\n";
  for (int i = 0; i < entries_per_version; ++i) text += proxy(version, i) + "\n";
  return text;
}
std::string devices_text(int version) {
  std::string text;
  for (int i = 0; i < entries_per_version; ++i) text += device(version, i) + "\n";
  return text;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// Which version of each list a snapshot holds, or why it is not exactly one whole version.
struct seen {
  int proxies = 0;
  int devices = 0;
  std::string problem;
};

seen inspect(const list_snapshot& snap) {
  seen out;
  for (int v = 1; v <= versions; ++v) {
    int proxies = 0;
    int devices = 0;
    for (int i = 0; i < entries_per_version; ++i) {
      proxies += snap.is_open_proxy(proxy(v, i)) ? 1 : 0;
      devices += snap.is_managed_device(device(v, i)) ? 1 : 0;
    }
    if (proxies == entries_per_version && out.proxies == 0) {
      out.proxies = v;
    } else if (proxies != 0) {
      out.problem += "open_proxies: " + std::to_string(proxies) + " entries of version " + std::to_string(v) + "; ";
    }
    if (devices == entries_per_version && out.devices == 0) {
      out.devices = v;
    } else if (devices != 0) {
      out.problem += "managed_devices: " + std::to_string(devices) + " entries of version " + std::to_string(v) + "; ";
    }
  }
  if (out.proxies == 0) out.problem += "no whole open_proxies version; ";
  if (out.devices == 0) out.problem += "no whole managed_devices version; ";
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(lists_swap)

BOOST_AUTO_TEST_CASE(readers_holding_snapshots_see_one_whole_version_of_each_list) {
  test::temp_directory dir;
  storage::manual_clock clock{std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000))};
  auto keys = crypto::key_ring::generate();
  BOOST_TEST_REQUIRE(keys.has_value());
  const fs::path devices_source = dir.path() / "devices.txt";
  write_text(devices_source, devices_text(1));
  lists_config config;
  config.managed_devices.path = devices_source;
  for (auto* source : {&config.open_proxies, &config.managed_devices, &config.exposed_credentials,
                       &config.exposed_passwords}) {
    source->refresh_interval = std::chrono::seconds(0);
  }
  list_registry registry(config, dir.path(), *keys, clock);
  registry.load_all();
  {
    auto path = registry.upload_path(list_id::open_proxies);
    BOOST_TEST_REQUIRE(path.has_value());
    write_text(*path, proxies_text(1));
    BOOST_TEST_REQUIRE(registry.install_upload(list_id::open_proxies, *path).has_value());
  }
  BOOST_TEST_REQUIRE(inspect(*registry.snapshot()).problem.empty());

  std::atomic<int> writers_running{2};
  std::atomic<int> write_failures{0};
  // An admin's uploads (PUT /v1/admin/lists/open_proxies) ...
  std::thread uploader([&] {
    for (int v = 2; v <= versions; ++v) {
      auto path = registry.upload_path(list_id::open_proxies);
      if (path) write_text(*path, proxies_text(v));
      if (!path || !registry.install_upload(list_id::open_proxies, *path)) write_failures.fetch_add(1);
    }
    writers_running.fetch_sub(1);
  });
  // ... while the source of another list changes and is reloaded (refresh, SIGHUP): the new
  // file is renamed into place, as a feed's fetcher would.
  std::thread reloader([&] {
    for (int v = 2; v <= versions; ++v) {
      const fs::path next = dir.path() / "devices.txt.next";
      write_text(next, devices_text(v));
      fs::rename(next, devices_source);
      if (!registry.reload(list_id::managed_devices)) write_failures.fetch_add(1);
    }
    writers_running.fetch_sub(1);
  });

  constexpr std::size_t readers = 3;
  std::vector<std::string> problems(readers);
  std::vector<int> snapshots_read(readers, 0);
  std::vector<std::thread> reader_threads;
  for (std::size_t r = 0; r < readers; ++r) {
    reader_threads.emplace_back([&, r] {
      seen last;
      last.proxies = 1;
      last.devices = 1;
      // Until both writers are done, then once more (the final versions).
      for (;;) {
        const bool final_round = writers_running.load() == 0;
        const auto held = registry.snapshot();
        const seen now = inspect(*held);
        ++snapshots_read[r];
        if (!now.problem.empty()) problems[r] += now.problem;
        if (now.proxies < last.proxies || now.devices < last.devices) {
          problems[r] += "went back from open_proxies v" + std::to_string(last.proxies) + " / managed_devices v" +
                         std::to_string(last.devices) + " to v" + std::to_string(now.proxies) + " / v" +
                         std::to_string(now.devices) + "; ";
        }
        std::this_thread::yield();  // let a swap happen while this snapshot is held
        const seen again = inspect(*held);
        if (again.proxies != now.proxies || again.devices != now.devices || !again.problem.empty()) {
          problems[r] += "a held snapshot changed after a swap; ";
        }
        last = now;
        if (!problems[r].empty() || final_round) break;
      }
      if (last.proxies != versions || last.devices != versions) {
        problems[r] += "the last snapshot is not the last versions (v" + std::to_string(last.proxies) + " / v" +
                       std::to_string(last.devices) + "); ";
      }
    });
  }
  uploader.join();
  reloader.join();
  for (auto& t : reader_threads) t.join();

  BOOST_TEST(write_failures.load() == 0);
  for (std::size_t r = 0; r < readers; ++r) {
    BOOST_TEST_MESSAGE("reader " << r << ": " << snapshots_read[r] << " snapshots");
    BOOST_TEST(problems[r].empty(), "reader " << r << ": " << problems[r]);
  }
  BOOST_TEST(registry.status(list_id::open_proxies).version == static_cast<std::uint64_t>(versions));
  BOOST_TEST(registry.status(list_id::managed_devices).version == static_cast<std::uint64_t>(versions));
}

BOOST_AUTO_TEST_CASE(the_swap_hook_sees_the_next_snapshot_before_it_serves_and_only_on_a_change) {
  test::temp_directory dir;
  storage::manual_clock clock{std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000))};
  auto keys = crypto::key_ring::generate();
  BOOST_TEST_REQUIRE(keys.has_value());
  lists_config config;
  list_registry registry(config, dir.path(), *keys, clock);
  registry.load_all();
  std::vector<std::string> calls;  // what each call saw: next's version and the serving one's
  registry.set_before_swap([&](const list_snapshot& next) {
    calls.push_back("next v" + std::to_string(inspect(next).proxies) + ", serving v" +
                    std::to_string(registry.snapshot()->open_proxies ? inspect(*registry.snapshot()).proxies : 0));
  });
  auto upload = [&](int version) {
    auto path = registry.upload_path(list_id::open_proxies);
    BOOST_TEST_REQUIRE(path.has_value());
    write_text(*path, proxies_text(version));
    auto outcome = registry.install_upload(list_id::open_proxies, *path);
    BOOST_TEST_REQUIRE(outcome.has_value());
    return outcome->changed;
  };
  BOOST_TEST(upload(1));
  BOOST_TEST(upload(2));
  BOOST_TEST(!upload(2));  // the same bytes again: nothing swaps, no call
  // A refused upload keeps the old version and calls nothing.
  auto path = registry.upload_path(list_id::open_proxies);
  BOOST_TEST_REQUIRE(path.has_value());
  write_text(*path, "not an address\n");
  BOOST_TEST(!registry.install_upload(list_id::open_proxies, *path).has_value());
  BOOST_TEST_REQUIRE(calls.size() == 2U);
  BOOST_TEST(calls[0] == "next v1, serving v0");
  BOOST_TEST(calls[1] == "next v2, serving v1");
}

BOOST_AUTO_TEST_SUITE_END()
