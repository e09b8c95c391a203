// The rules of tools/bench/rules_100.toml (100 realistic rules, with the real open-proxy list
// as $open_proxies) evaluated against a few request shapes: ns per rule_set::evaluate on one
// thread, CPU time. The server's target (issue 19) is that these rules cost at most 20% of a
// POST /v1/login/check; this isolates the evaluator's share. Prints "<metric> <value>".
// usage: rules_bench [--seconds S] [--rules FILE] [--proxies FILE] [--shape NAME (only that one)]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "rules/rule_set.hpp"
#include "storage/lists/ip_set_parser.hpp"

using namespace callsign;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "rules_bench: cannot read %s\n", path.c_str());
    std::exit(2);
  }
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct shape {
  const char* name;
  rules::request_fields fields;
};

std::vector<shape> shapes() {
  rules::request_fields browser;
  browser.ip_src = storage::parse_ip_bytes("81.2.69.160");
  browser.uri_path = "/v1/login";
  browser.method = "POST";
  browser.host = "login.example.com";
  browser.user_agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                       "Chrome/120.0.0.0 Safari/537.36";
  browser.headers = {{"accept", "application/json"},
                     {"accept-language", "en-GB,en;q=0.9"},
                     {"content-type", "application/json"},
                     {"origin", "https://login.example.com"},
                     {"referer", "https://login.example.com/login"},
                     {"sec-fetch-site", "same-origin"},
                     {"cookie", "session=abc; theme=dark"}};
  browser.bot_score = 85;
  browser.username_present = true;
  browser.login_failures_ip = 1;
  rules::request_fields bot = browser;  // a scripted client from an open proxy: decided early
  bot.ip_src = storage::parse_ip_bytes("1.179.136.98");
  bot.user_agent = "python-requests/2.31";
  bot.bot_score = 2;
  rules::request_fields no_score = browser;  // no bot detector in front: bot.score absent
  no_score.bot_score.reset();
  no_score.ip_src = storage::parse_ip_bytes("2a01:4f8::1");
  return {{"browser_login", browser}, {"proxy_bot", bot}, {"no_bot_score_v6", no_score}};
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 1.0;
  std::string rules_path = CALLSIGN_SOURCE_DIR "/tools/bench/rules_100.toml";
  std::string proxies_path = "/work/shared/data/open-proxies/union.ipset";
  std::string only;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
    else if (std::strcmp(argv[i], "--rules") == 0) rules_path = argv[i + 1];
    else if (std::strcmp(argv[i], "--proxies") == 0) proxies_path = argv[i + 1];
    else if (std::strcmp(argv[i], "--shape") == 0) only = argv[i + 1];
  }
  auto proxies = storage::parse_ip_set(read_file(proxies_path));
  if (!proxies) {
    std::fprintf(stderr, "rules_bench: %s is not an IP list\n", proxies_path.c_str());
    return 2;
  }
  auto open_proxies = std::make_shared<const storage::ip_set>(std::move(proxies.value()));
  const rules::list_resolver resolve = [&](std::string_view name) -> std::shared_ptr<const storage::ip_set> {
    return name == "open_proxies" ? open_proxies : nullptr;
  };
  const std::string text = read_file(rules_path);
  rules::rule_error why;
  const double compile_start = bench::thread_cpu_seconds();
  auto set = rules::rule_set::compile(text, resolve, why);
  const double compile_seconds = bench::thread_cpu_seconds() - compile_start;
  if (!set) {
    std::fprintf(stderr, "rules_bench: %s\n", why.message.c_str());
    return 1;
  }
  std::printf("rules %zu\n", set->rules().size());
  std::printf("open_proxies_entries %zu\n", open_proxies->entries());
  std::printf("compile_ms %.2f\n", compile_seconds * 1e3);
  rules::decision d;
  constexpr std::uint64_t batch = 1000;
  for (const auto& s : shapes()) {
    if (!only.empty() && only != s.name) continue;
    const double per_second = bench::per_cpu_second(seconds, batch, [&] {
      for (std::uint64_t i = 0; i < batch; ++i) set->evaluate(s.fields, d);
    });
    std::printf("%s_ns_per_evaluate %.0f\n", s.name, 1e9 / per_second);
    std::printf("%s_decision %s rule=%s logged=%zu shadow=%zu\n", s.name,
                d.act ? std::string(rules::action_name(*d.act)).c_str() : "none",
                d.rule ? set->rules()[*d.rule].id.c_str() : "-", d.logged.size(), d.shadow.size());
  }
  return 0;
}
