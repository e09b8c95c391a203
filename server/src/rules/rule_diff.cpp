#include "server/rules/rule_diff.hpp"

#include <algorithm>
#include <cstdint>

namespace callsign::server {

namespace {

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto end = text.find('\n');
    lines.push_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

// Longest common subsequence over lines; the diff walks it in file order.
std::vector<std::string> line_diff(std::string_view before, std::string_view after) {
  const auto a = split_lines(before);
  const auto b = split_lines(after);
  std::vector<std::string> out;
  // Appended piece by piece: GCC 12's -Wrestrict misfires on chained operator+ at -O2.
  auto line = [&out](char sign, std::size_t number, std::string_view text) {
    std::string entry(1, sign);
    entry.append(std::to_string(number)).append(1, ' ').append(text);
    out.push_back(std::move(entry));
  };
  auto removed = [&](std::size_t i) { line('-', i + 1, a[i]); };
  auto added = [&](std::size_t j) { line('+', j + 1, b[j]); };
  if (a.size() * b.size() > max_diff_cells) {
    for (std::size_t i = 0; i < a.size(); ++i) removed(i);
    for (std::size_t j = 0; j < b.size(); ++j) added(j);
    return out;
  }
  // lcs[i][j]: the LCS length of a[i..] and b[j..].
  const std::size_t width = b.size() + 1;
  std::vector<std::uint32_t> lcs((a.size() + 1) * width, 0);
  for (std::size_t i = a.size(); i-- > 0;) {
    for (std::size_t j = b.size(); j-- > 0;) {
      lcs[i * width + j] = a[i] == b[j] ? lcs[(i + 1) * width + j + 1] + 1
                                        : std::max(lcs[(i + 1) * width + j], lcs[i * width + j + 1]);
    }
  }
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i] == b[j]) {
      ++i;
      ++j;
    } else if (lcs[(i + 1) * width + j] >= lcs[i * width + j + 1]) {
      removed(i++);
    } else {
      added(j++);
    }
  }
  while (i < a.size()) removed(i++);
  while (j < b.size()) added(j++);
  return out;
}

template <class T>
const T* find_id(const std::vector<T>& items, std::string_view id) {
  auto it = std::find_if(items.begin(), items.end(), [&](const T& item) { return item.id == id; });
  return it == items.end() ? nullptr : &*it;
}

bool same(const rules::rule_source& x, const rules::rule_source& y) {
  return x.expression == y.expression && x.act == y.act && x.shadow == y.shadow && x.description == y.description;
}
bool same(const rules::rate_limit_source& x, const rules::rate_limit_source& y) {
  return x.expression == y.expression && x.by == y.by && x.limit == y.limit && x.period_seconds == y.period_seconds &&
         x.mitigation_timeout_seconds == y.mitigation_timeout_seconds && x.shadow == y.shadow;
}

template <class T>
void diff_ids(const std::vector<T>& before, const std::vector<T>& after, rule_file_diff& out) {
  for (const auto& item : after) {
    const auto* old = find_id(before, item.id);
    if (old == nullptr) {
      out.added.push_back(item.id);
    } else if (!same(*old, item)) {
      out.changed.push_back(item.id);
    }
  }
  for (const auto& item : before) {
    if (find_id(after, item.id) == nullptr) out.removed.push_back(item.id);
  }
}

}  // namespace

rule_file_diff diff_rule_files(const rules::rule_set& before, std::string_view before_text,
                               const rules::rule_set& after, std::string_view after_text) {
  rule_file_diff out;
  diff_ids(before.rules(), after.rules(), out);
  diff_ids(before.rate_limits(), after.rate_limits(), out);
  out.lines = line_diff(before_text, after_text);
  return out;
}

std::vector<std::string> pack_diff_lines(const std::vector<std::string>& lines, std::size_t chunk_bytes) {
  std::vector<std::string> chunks;
  std::string current;
  for (const auto& line : lines) {
    // A line starts a new chunk when it does not fit the current one.
    if (!current.empty() && current.size() + 1 + line.size() > chunk_bytes) {
      chunks.push_back(std::move(current));
      current.clear();
    }
    if (!current.empty()) current += '\n';
    std::string_view rest = line;
    // A line longer than a chunk is split over several.
    while (current.size() + rest.size() > chunk_bytes) {
      const auto take = chunk_bytes - current.size();
      current += rest.substr(0, take);
      rest.remove_prefix(take);
      chunks.push_back(std::move(current));
      current.clear();
    }
    current += rest;
  }
  if (!current.empty()) chunks.push_back(std::move(current));
  return chunks;
}

}  // namespace callsign::server
