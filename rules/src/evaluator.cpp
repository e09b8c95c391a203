// Evaluation of a compiled_expression: no allocation once warm (lower() writes into
// per-thread buffers that keep their capacity), no failure. An absent bot.score or ip.src
// makes every comparison on it false.
#include "evaluator.hpp"

#include <algorithm>
#include <array>

#include "text_functions.hpp"

namespace callsign::rules {
namespace {

struct pass_state {
  std::uint64_t pass = 0;
  std::array<std::uint64_t, field_count> lowered_in{};  // the pass each lowered[f] belongs to
  std::array<std::string, field_count> lowered;
  std::vector<std::string> buffers;  // lower() of anything else, one per lower() in an expression
};

pass_state& state() noexcept {
  thread_local pass_state s;
  return s;
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
        const std::string& name = e.strings[v.index];
        for (const auto& h : f.headers) {
          if (equals_ignore_ascii_case(h.name, name)) return h.value;
        }
        return {};
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

  std::optional<std::int64_t> integer(std::uint32_t i) const {
    const value_op& v = e.values[i];
    if (v.code == value_code::len) return static_cast<std::int64_t>(bytes(v.arg).size());
    switch (v.source) {
      case field::bot_score: return f.bot_score;
      case field::rate_login_failures_ip: return f.login_failures_ip;
      case field::rate_login_failures_username: return f.login_failures_username;
      case field::http_response_code: return f.response_code;
      default: return std::nullopt;
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
        const auto x = integer(o.value);
        return x && compare(o.cmp, *x, o.number);
      }
      case op_code::compare_bytes: return compare(o.cmp, bytes(o.value), std::string_view(e.strings[o.first]));
      case op_code::contains: return bytes(o.value).find(e.strings[o.first]) != std::string_view::npos;
      case op_code::starts_with: return bytes(o.value).starts_with(e.strings[o.first]);
      case op_code::ends_with: return bytes(o.value).ends_with(e.strings[o.first]);
      case op_code::matches: {
        const std::string_view s = bytes(o.value);
        return RE2::PartialMatch(re2::StringPiece(s.data(), s.size()), *e.regexes[o.first]);
      }
      case op_code::in_ints: {
        const auto x = integer(o.value);
        if (!x) return false;
        const auto& set = e.int_sets[o.first];
        auto it = std::upper_bound(set.begin(), set.end(), *x,
                                   [](std::int64_t v, const int_range& r) { return v < r.lo; });
        return it != set.begin() && *x <= std::prev(it)->hi;
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
  return evaluation{e, fields, s}.op(e.root);
}

bool evaluate_expression(const compiled_expression& e, const request_fields& fields) {
  begin_pass();
  return evaluate_in_pass(e, fields);
}

}  // namespace callsign::rules
