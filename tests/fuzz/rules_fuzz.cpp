// The rules language (rules/) on arbitrary text. Byte 0 picks the form:
//  0: the rest is one expression (compile_expression);
//  1: the rest is an expression written into a rule file as a basic, literal or multi-line
//     literal TOML string (byte 1 picks; bytes it cannot hold become '?'): the file compiles
//     exactly when the expression does alone, and a refusal names the FILE line and column
//     that an independent walk over the written string gives;
//  2: the rest is a whole rule file (raw TOML).
// Whatever compiles is evaluated against fixed requests: decisions keep evaluate's contract
// (rules/include/rules/rule_set.hpp), are the same twice, and are those of the plain path (no
// work shared between rules: rules/src/rule_set_testing.hpp). Refusals are well formed.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.hpp"
#include "rule_set_testing.hpp"
#include "rules/rule_set.hpp"
#include "storage/lists/ip_set_parser.hpp"

using namespace callsign;
using namespace callsign::rules;

namespace {

const list_resolver& resolver() {
  static const list_resolver resolve = [] {
    auto proxies = storage::parse_ip_set("203.0.113.0/24\n2001:db8:bad::/48\n1.2.3.4\n");
    FUZZ_CHECK(proxies.has_value());
    auto set = std::make_shared<const storage::ip_set>(std::move(proxies.value()));
    auto empty = std::make_shared<const storage::ip_set>();
    return list_resolver([set, empty](std::string_view name) -> std::shared_ptr<const storage::ip_set> {
      if (name == "open_proxies") return set;
      if (name == "empty") return empty;
      return nullptr;
    });
  }();
  return resolve;
}

const std::vector<request_fields>& requests() {
  static const std::vector<request_fields> all = [] {
    request_fields a;
    a.ip_src = storage::parse_ip_bytes("203.0.113.5");
    a.uri_path = "/login";
    a.method = "POST";
    a.host = "Login.Example.com";
    a.user_agent = "curl/8.0 (X11; Linux)";
    a.headers = {{"Accept", "*/*"}, {"x-a", "1"}, {"X-A", "2"}};
    a.bot_score = 12;
    a.username_present = true;
    a.exposed_password = true;
    a.login_failures_ip = 7;
    request_fields b;  // everything empty or absent
    request_fields c = a;
    c.ip_src = storage::parse_ip_bytes("2001:db8:bad::9");
    c.bot_score.reset();
    c.user_agent = std::string_view("\x00\xff\xc3\xa9 Mozilla", 11);
    c.device_managed = true;
    c.login_success = true;
    c.response_code = 403;
    return std::vector<request_fields>{a, b, c};
  }();
  return all;
}

void check_error(const rule_error& e) {
  FUZZ_CHECK(!e.message.empty());
  FUZZ_CHECK(!e.expected.empty());
  FUZZ_CHECK(e.line >= 0 && e.column >= 0);
  FUZZ_CHECK((e.line == 0) == (e.column == 0));
  if (e.line > 0) {
    const std::string where = "line " + std::to_string(e.line) + ", column " + std::to_string(e.column);
    FUZZ_CHECK(e.message.find(where) != std::string::npos);
  }
}

void check_rule_set(const rule_set& set) {
  for (const auto& f : requests()) {
    decision d, again;
    set.evaluate(f, d);
    set.evaluate(f, again);
    FUZZ_CHECK(d.act == again.act && d.rule == again.rule && d.logged == again.logged && d.shadow == again.shadow);
    FUZZ_CHECK(d.act.has_value() == d.rule.has_value());
    const std::uint32_t end = d.rule ? *d.rule : static_cast<std::uint32_t>(set.rules().size());
    if (d.rule) {
      FUZZ_CHECK(*d.rule < set.rules().size());
      const auto& r = set.rules()[*d.rule];
      FUZZ_CHECK(!r.shadow && r.act == *d.act && r.act != action::log);
    }
    for (std::size_t i = 0; i < d.logged.size(); ++i) {
      FUZZ_CHECK(d.logged[i] < end && (i == 0 || d.logged[i - 1] < d.logged[i]));
      FUZZ_CHECK(!set.rules()[d.logged[i]].shadow && set.rules()[d.logged[i]].act == action::log);
    }
    for (std::size_t i = 0; i < d.shadow.size(); ++i) {
      FUZZ_CHECK(d.shadow[i] < end && (i == 0 || d.shadow[i - 1] < d.shadow[i]));
      FUZZ_CHECK(set.rules()[d.shadow[i]].shadow);
    }
    for (std::size_t k = 0; k < set.rate_limits().size(); ++k) FUZZ_CHECK(set.counts(k, f) == set.counts(k, f));
  }
}

// The shared path (rule_set::compile) answers as the plain one, rule by rule: with every
// action logged, a decision lists each rule that matched.
void check_same_as_plain(std::string_view text) {
  std::string logged(text);
  for (const char* act : {"\"block\"", "\"challenge\"", "\"skip\"", "\"allow\""}) {
    for (std::size_t at = logged.find(act); at != std::string::npos; at = logged.find(act, at)) {
      logged.replace(at, std::string_view(act).size(), "\"log\"");
    }
  }
  rule_error why, plain_why;
  auto shared = rule_set::compile(logged, resolver(), why);
  auto plain = compile_unshared(logged, resolver(), plain_why);
  FUZZ_CHECK((shared != nullptr) == (plain != nullptr));
  if (!shared) return;
  for (const auto& f : requests()) {
    decision a, b;
    shared->evaluate(f, a);
    plain->evaluate(f, b);
    FUZZ_CHECK(a.act == b.act && a.rule == b.rule && a.logged == b.logged && a.shadow == b.shadow);
    for (std::size_t k = 0; k < shared->rate_limits().size(); ++k) FUZZ_CHECK(shared->counts(k, f) == plain->counts(k, f));
  }
}

// Offset of 1-based (line, column) in ASCII text.
std::size_t offset_of(std::string_view text, int line, int column) {
  std::size_t at = 0;
  for (int l = 1; l < line; ++l) at = text.find('\n', at) + 1;
  return at + static_cast<std::size_t>(column - 1);
}

void expression_in_file(std::string expression, std::uint8_t form) {
  for (char& c : expression) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x7f || (u < 0x20 && c != '\n' && c != '\t')) c = '?';
  }
  rule_error alone_error;
  auto alone = compile_expression(expression, resolver(), alone_error);
  // Written as TOML; `column_of[i]` is the file column of expression byte i (line 3 unless
  // multi-line), and of the closing quote at i == size.
  std::string literal;
  std::vector<int> column_of;
  const bool multi_line = form % 3 == 2 && expression.find("'''") == std::string::npos &&
                          (expression.empty() || expression.back() != '\'');
  const bool literal_string = form % 3 == 1 && expression.find_first_of("'\n") == std::string::npos;
  if (multi_line) {
    literal = "'''\n" + expression + "'''";
  } else if (literal_string) {
    literal = "'" + expression + "'";
    for (std::size_t i = 0; i <= expression.size(); ++i) column_of.push_back(15 + static_cast<int>(i));
  } else {
    literal = "\"";
    for (char c : expression) {
      column_of.push_back(14 + static_cast<int>(literal.size()));
      switch (c) {
        case '"': literal += "\\\""; break;
        case '\\': literal += "\\\\"; break;
        case '\n': literal += "\\n"; break;
        case '\t': literal += "\\t"; break;
        default: literal += c;
      }
    }
    column_of.push_back(14 + static_cast<int>(literal.size()));
    literal += "\"";
  }
  const std::string file = "[[rule]]\nid = \"fz\"\nexpression = " + literal + "\naction = \"block\"\n";
  rule_error file_error;
  auto set = rule_set::compile(file, resolver(), file_error);
  FUZZ_CHECK((set != nullptr) == (alone != nullptr));
  if (!set) {
    check_error(file_error);
    const std::size_t at = offset_of(expression, alone_error.line, alone_error.column);
    const bool same_refusal = file_error.rule == "fz" && file_error.expected == alone_error.expected;
    const bool position = multi_line ? file_error.line == alone_error.line + 3 && file_error.column == alone_error.column
                                     : at < column_of.size() && file_error.line == 3 && file_error.column == column_of[at];
    if (!same_refusal || !position) {
      std::fprintf(stderr, "alone: %s\nfile:  %s\n", alone_error.message.c_str(), file_error.message.c_str());
    }
    FUZZ_CHECK(same_refusal);
    FUZZ_CHECK(position);
    return;
  }
  check_rule_set(*set);
  check_same_as_plain(file);
  for (const auto& f : requests()) {
    decision d;
    set->evaluate(f, d);
    FUZZ_CHECK(evaluate_expression(*alone, f) == d.act.has_value());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 2, size - 2);
  switch (data[0] % 3) {
    case 0: {
      rule_error why;
      auto e = compile_expression(text, resolver(), why);
      if (!e) {
        check_error(why);
        FUZZ_CHECK(why.rule.empty() && why.line >= 1);
        return 0;
      }
      auto plain = compile_expression_unshared(text, resolver(), why);
      FUZZ_CHECK(plain != nullptr);
      for (const auto& f : requests()) {
        FUZZ_CHECK(evaluate_expression(*e, f) == evaluate_expression(*e, f));
        FUZZ_CHECK(evaluate_expression(*e, f) == evaluate_expression(*plain, f));
      }
      return 0;
    }
    case 1: expression_in_file(std::string(text), data[1]); return 0;
    default: {
      rule_error why;
      auto set = rule_set::compile(text, resolver(), why);
      if (!set) {
        check_error(why);
        return 0;
      }
      check_rule_set(*set);
      check_same_as_plain(text);
      return 0;
    }
  }
}
