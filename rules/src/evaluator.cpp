// Evaluation of a compiled_expression: no allocation once warm (lower() writes into
// per-thread buffers that keep their capacity), no failure. An absent bot.score or ip.src
// makes every comparison on it false.
#include "evaluator.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

#include "text_functions.hpp"

namespace callsign::rules {

namespace {

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
  const compiled_expression& e;  // its literal tables
  const request_fields& f;
  pass_state& st;
  const file_shared& fs;
  const bool_op* ops;  // e's code, in fs
  const std::uint32_t* children;
  const value_op* values;

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
    const value_op& v = values[i];
    switch (v.code) {
      case value_code::header: {
        if (st.header_in[v.arg] == st.pass) return st.header_value[v.arg];
        const std::string& name = e.strings[v.index];
        std::string_view value;
        for (const auto& h : f.headers) {
          if (h.name.size() == name.size() && equals_ignore_ascii_case(h.name, name)) {  // most differ in size
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
    const value_op& v = values[i];
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
    switch (values[i].source) {
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

  // Answers every needle of the group and fills all their slots. contains: one scan of h.
  bool search_group(const needle_group& g, std::string_view h, std::uint32_t own) const {
    const std::size_t n = g.needles.size();
    if (g.kind == op_code::compare_bytes) {
      for (std::size_t j = 0; j < n; ++j) st.leaf[g.slots[j]] = (h == g.needles[j]) != g.negate ? 2 : 1;
      return st.leaf[own] == 2;
    }
    if (g.kind != op_code::contains) {
      for (std::size_t j = 0; j < n; ++j) {
        const std::string& p = g.needles[j];
        const bool hit = h.size() >= p.size() &&
                         same_bytes(g.kind == op_code::starts_with ? h.data() : h.data() + h.size() - p.size(),
                                    p.data(), p.size());
        st.leaf[g.slots[j]] = hit ? 2 : 1;
      }
      return st.leaf[own] == 2;
    }
    const std::uint64_t all = n == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1;
    std::uint64_t found = 0;
    const auto* p = reinterpret_cast<const unsigned char*>(h.data());
    const std::uint64_t* first = g.pairs.data();
    const std::uint64_t* second = first + 256;
    const std::size_t last = h.size() < 2 ? 0 : h.size() - 1;  // pairs start at [0, last)
    for (std::size_t i = 0; i < last; ++i) {
      std::uint64_t m = first[p[i]] & second[p[i + 1]];
      if (m == 0) continue;  // most positions: no needle starts with this pair
      m &= ~found;
      while (m != 0) {
        const int j = std::countr_zero(m);
        m &= m - 1;
        const std::string& needle = g.needles[static_cast<std::size_t>(j)];
        if (needle.size() <= h.size() - i && same_bytes(h.data() + i + 2, needle.data() + 2, needle.size() - 2)) {
          found |= std::uint64_t{1} << j;
        }
      }
      if (found == all) break;
    }
    for (std::size_t j = 0; j < n; ++j) st.leaf[g.slots[j]] = ((found >> j) & 1U) != 0 ? 2 : 1;
    return st.leaf[own] == 2;
  }

  // The group's answer when it has company, else nullopt-like: -1.
  int grouped(const bool_op& o) const {
    if (o.group == no_slot) return -1;
    const needle_group& g = fs.groups[o.group];
    if (g.needles.size() < 2) return -1;
    return search_group(g, bytes(o.value), o.slot) ? 1 : 0;
  }

  bool op(std::uint32_t i) const { return run(ops[i]); }

  bool run(const bool_op& o) const {
    if (o.slot == no_slot) return compute(o);
    std::uint8_t& known = st.leaf[o.slot];
    if (known != 0) return known == 2;
    const bool r = compute(o);
    known = r ? 2 : 1;
    return r;
  }

  bool compute(const bool_op& o) const {
    switch (o.code) {
      case op_code::all_of:
        for (std::uint32_t k = 0; k < o.count; ++k) {
          if (!op(children[o.first + k])) return false;
        }
        return true;
      case op_code::any_of:
        for (std::uint32_t k = 0; k < o.count; ++k) {
          if (op(children[o.first + k])) return true;
        }
        return false;
      case op_code::parity: {
        bool odd = false;
        for (std::uint32_t k = 0; k < o.count; ++k) odd ^= op(children[o.first + k]);
        return odd;
      }
      case op_code::negate: return !op(children[o.first]);
      case op_code::truth: return boolean(o.value);
      case op_code::compare_bool: return compare(o.cmp, boolean(o.value), o.number != 0);
      case op_code::compare_int: {
        std::int64_t x = 0;
        if (o.group != no_slot && fs.int_groups[o.group].tests.size() > 1) {
          const bool present = integer(o.value, x);
          for (const int_test& t : fs.int_groups[o.group].tests) {
            st.leaf[t.slot] = present && ((x >= t.lo && x <= t.hi) != t.negate) ? 2 : 1;
          }
          return st.leaf[o.slot] == 2;
        }
        return integer(o.value, x) && compare(o.cmp, x, o.number);
      }
      case op_code::compare_bytes:
        if (const int g = grouped(o); g >= 0) return g == 1;
        return compare(o.cmp, bytes(o.value), std::string_view(e.strings[o.first]));
      case op_code::contains: {
        if (const int g = grouped(o); g >= 0) return g == 1;
        return contains(bytes(o.value), e.strings[o.first]);
      }
      case op_code::starts_with: {
        if (const int g = grouped(o); g >= 0) return g == 1;
        const std::string_view x = bytes(o.value);
        const std::string& p = e.strings[o.first];
        return x.size() >= p.size() && same_bytes(x.data(), p.data(), p.size());
      }
      case op_code::ends_with: {
        if (const int g = grouped(o); g >= 0) return g == 1;
        const std::string_view x = bytes(o.value);
        const std::string& p = e.strings[o.first];
        return x.size() >= p.size() && same_bytes(x.data() + x.size() - p.size(), p.data(), p.size());
      }
      case op_code::matches: {
        if (o.prefilter != no_slot) {
          const regex_prefilter& p = e.prefilters[o.prefilter];
          std::uint32_t present = 0;
          for (std::size_t k = 0; k < p.atoms.size(); ++k) present |= run(p.atoms[k]) ? 1U << k : 0U;
          if (((p.table >> present) & 1U) == 0) return false;
        }
        const std::string_view s = bytes(o.value);
        return e.regexes[o.first]->Match(re2::StringPiece(s.data(), s.size()), 0, s.size(), RE2::UNANCHORED, nullptr, 0);
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

pass_state& begin_pass(const pass_needs& needs) {
  pass_state& s = state();
  ++s.pass;
  if (s.buffers.size() < needs.lower_buffers) s.buffers.resize(needs.lower_buffers);
  if (s.header_in.size() < needs.header_slots) {
    s.header_in.resize(needs.header_slots, 0);
    s.header_value.resize(needs.header_slots);
  }
  if (s.leaf.size() < needs.leaf_slots) s.leaf.resize(needs.leaf_slots);
  std::fill_n(s.leaf.begin(), needs.leaf_slots, std::uint8_t{0});
  return s;
}

bool evaluate_in_pass(pass_state& s, const file_shared& shared, const code_at& code, const compiled_expression& e,
                      const request_fields& fields) {
  const evaluation run{e,
                       fields,
                       s,
                       shared,
                       shared.ops.data() + code.ops,
                       shared.children.data() + code.children,
                       shared.values.data() + code.values};
  const bool_op& root = run.ops[code.root];
  if (root.code != op_code::all_of) return run.op(code.root);
  for (std::uint32_t k = 0; k < root.count; ++k) {  // the usual root, without a dispatch
    if (!run.op(run.children[root.first + k])) return false;
  }
  return true;
}

bool evaluate_expression(const compiled_expression& e, const request_fields& fields) {
  const file_shared& shared = *e.shared;
  return evaluate_in_pass(begin_pass(shared.needs), shared, e.at, e, fields);
}

}  // namespace callsign::rules
