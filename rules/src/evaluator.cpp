// Evaluation of a compiled_expression: no allocation once warm (lower() writes into
// per-thread buffers that keep their capacity), no failure. An absent bot.score or ip.src
// makes every comparison on it false.
#include "evaluator.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "text_functions.hpp"

namespace callsign::rules {
namespace {

struct pass_state {
  std::uint64_t pass = 0;
  std::array<std::uint64_t, field_count> lowered_in{};  // the pass each lowered[f] belongs to
  std::array<std::string, field_count> lowered;
  std::vector<std::string> buffers;  // lower() of anything else, one per lower() in an expression
  std::vector<std::uint64_t> header_in;  // by header slot: the pass header_value belongs to
  std::vector<std::string_view> header_value;
};

pass_state& state() noexcept {
  thread_local pass_state s;
  return s;
}

// Rule literals are short: comparing them inline beats a call to memcmp per candidate.
bool same_bytes(const char* a, const char* b, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

bool contains(std::string_view haystack, std::string_view needle) noexcept {
  if (needle.empty()) return true;
  if (needle.size() > haystack.size()) return false;
  const char first = needle[0];
  const char* at = haystack.data();
  const char* const last = haystack.data() + (haystack.size() - needle.size());
  while (at <= last) {
    const auto* hit = static_cast<const char*>(std::memchr(at, first, static_cast<std::size_t>(last - at) + 1));
    if (hit == nullptr) return false;
    if (same_bytes(hit + 1, needle.data() + 1, needle.size() - 1)) return true;
    at = hit + 1;
  }
  return false;
}

struct evaluation {
  const compiled_expression& e;
  const request_fields& f;
  pass_state& st;

  std::string_view field_bytes(field source) const {
    switch (source) {
      case field::http_request_uri_path: return f.uri_path;
      case field::http_request_method: return f.method;
      case field::http_host: return f.host;
      case field::http_user_agent: return f.user_agent;
      default: return {};
    }
  }

  std::string_view bytes(std::uint32_t i) const {
    const value_op& v = e.values[i];
    switch (v.code) {
      case value_code::header: {
        if (st.header_in[v.arg] == st.pass) return st.header_value[v.arg];
        const std::string& name = e.strings[v.index];
        std::string_view value;
        for (const auto& h : f.headers) {
          if (equals_ignore_ascii_case(h.name, name)) {
            value = h.value;
            break;
          }
        }
        st.header_in[v.arg] = st.pass;
        st.header_value[v.arg] = value;
        return value;
      }
      case value_code::lower: {
        std::string& out = st.buffers[v.index];
        ascii_lower_into(out, bytes(v.arg));
        return out;
      }
      case value_code::lower_field: {
        const auto slot = static_cast<std::size_t>(v.source);
        if (st.lowered_in[slot] != st.pass) {
          ascii_lower_into(st.lowered[slot], field_bytes(v.source));
          st.lowered_in[slot] = st.pass;
        }
        return st.lowered[slot];
      }
      default: return field_bytes(v.source);
    }
  }

  // false when absent (bot.score). Not std::optional: its return through the stack cost a
  // store-forwarding stall on every integer comparison (perf, rules_bench).
  bool integer(std::uint32_t i, std::int64_t& out) const {
    const value_op& v = e.values[i];
    if (v.code == value_code::len) {
      out = static_cast<std::int64_t>(bytes(v.arg).size());
      return true;
    }
    switch (v.source) {
      case field::bot_score:
        out = f.bot_score.value_or(0);
        return f.bot_score.has_value();
      case field::rate_login_failures_ip: out = f.login_failures_ip; return true;
      case field::rate_login_failures_username: out = f.login_failures_username; return true;
      case field::http_response_code: out = f.response_code; return true;
      default: return false;
    }
  }

  bool boolean(std::uint32_t i) const {
    switch (e.values[i].source) {
      case field::login_username_present: return f.username_present;
      case field::login_exposed_credential: return f.exposed_credential;
      case field::login_exposed_password: return f.exposed_password;
      case field::device_managed: return f.device_managed;
      case field::device_serial_present: return f.device_serial_present;
      case field::login_success: return f.login_success;
      default: return false;
    }
  }

  template <class T>
  static bool compare(compare_op op, const T& a, const T& b) {
    switch (op) {
      case compare_op::eq: return a == b;
      case compare_op::ne: return a != b;
      case compare_op::lt: return a < b;
      case compare_op::le: return a <= b;
      case compare_op::gt: return a > b;
      case compare_op::ge: return a >= b;
    }
    return false;
  }

  bool op(std::uint32_t i) const {
    const bool_op& o = e.ops[i];
    switch (o.code) {
      case op_code::all_of:
        for (std::uint32_t k = 0; k < o.count; ++k) {
          if (!op(e.children[o.first + k])) return false;
        }
        return true;
      case op_code::any_of:
        for (std::uint32_t k = 0; k < o.count; ++k) {
          if (op(e.children[o.first + k])) return true;
        }
        return false;
      case op_code::parity: {
        bool odd = false;
        for (std::uint32_t k = 0; k < o.count; ++k) odd ^= op(e.children[o.first + k]);
        return odd;
      }
      case op_code::negate: return !op(e.children[o.first]);
      case op_code::truth: return boolean(o.value);
      case op_code::compare_bool: return compare(o.cmp, boolean(o.value), o.number != 0);
      case op_code::compare_int: {
        std::int64_t x = 0;
        return integer(o.value, x) && compare(o.cmp, x, o.number);
      }
      case op_code::compare_bytes: return compare(o.cmp, bytes(o.value), std::string_view(e.strings[o.first]));
      case op_code::contains: return contains(bytes(o.value), e.strings[o.first]);
      case op_code::starts_with: {
        const std::string_view x = bytes(o.value);
        const std::string& p = e.strings[o.first];
        return x.size() >= p.size() && same_bytes(x.data(), p.data(), p.size());
      }
      case op_code::ends_with: {
        const std::string_view x = bytes(o.value);
        const std::string& p = e.strings[o.first];
        return x.size() >= p.size() && same_bytes(x.data() + x.size() - p.size(), p.data(), p.size());
      }
      case op_code::matches: {
        const std::string_view s = bytes(o.value);
        return RE2::PartialMatch(re2::StringPiece(s.data(), s.size()), *e.regexes[o.first]);
      }
      case op_code::in_ints: {
        std::int64_t x = 0;
        if (!integer(o.value, x)) return false;
        const auto& set = e.int_sets[o.first];
        auto it = std::upper_bound(set.begin(), set.end(), x,
                                   [](std::int64_t v, const int_range& r) { return v < r.lo; });
        return it != set.begin() && x <= std::prev(it)->hi;
      }
      case op_code::in_strings: {
        const auto& set = e.string_sets[o.first];
        return std::binary_search(set.begin(), set.end(), bytes(o.value), std::less<>{});
      }
      case op_code::ip_equal:
      case op_code::ip_not_equal: {
        if (!f.ip_src) return false;
        const bool same = same_address(storage::to_ip_value(*f.ip_src), e.addresses[o.first]);
        return o.code == op_code::ip_equal ? same : !same;
      }
      case op_code::in_ips: return f.ip_src && e.ip_sets[o.first].contains(storage::to_ip_value(*f.ip_src));
      case op_code::in_list: return f.ip_src && e.lists[o.first]->contains(storage::to_ip_value(*f.ip_src));
    }
    return false;
  }
};

}  // namespace

void begin_pass() noexcept { ++state().pass; }

bool evaluate_in_pass(const compiled_expression& e, const request_fields& fields) {
  pass_state& s = state();
  if (s.buffers.size() < e.lower_buffers) s.buffers.resize(e.lower_buffers);
  if (s.header_in.size() < e.header_slots) {
    s.header_in.resize(e.header_slots, 0);
    s.header_value.resize(e.header_slots);
  }
  return evaluation{e, fields, s}.op(e.root);
}

bool evaluate_expression(const compiled_expression& e, const request_fields& fields) {
  begin_pass();
  return evaluate_in_pass(e, fields);
}

}  // namespace callsign::rules
