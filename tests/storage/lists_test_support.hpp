// Shared by the list tests: the real data under $CALLSIGN_SHARED_DIR and small file helpers.
#pragma once

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace callsign::test {

inline std::filesystem::path shared_data_dir() {
  const char* shared = std::getenv("CALLSIGN_SHARED_DIR");
  BOOST_TEST_REQUIRE(shared != nullptr, "CALLSIGN_SHARED_DIR is not set (tests/CMakeLists.txt sets it)");
  return std::filesystem::path(shared) / "data";
}

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  BOOST_TEST_REQUIRE(static_cast<bool>(in), "cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  BOOST_TEST_REQUIRE(static_cast<bool>(out));
}

// The daily-NN-*.ipset files in name order (oldest first).
inline std::vector<std::filesystem::path> daily_proxy_files() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(shared_data_dir() / "open-proxies")) {
    if (entry.path().filename().string().rfind("daily-", 0) == 0) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Addresses (one per non-comment line) of an .ipset file.
inline std::vector<std::string> ipset_addresses(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    out.push_back(line);
  }
  return out;
}

template <class T>
std::string error_text(const T& r) {
  return r.has_value() ? std::string() : r.error().message;
}

}  // namespace callsign::test
