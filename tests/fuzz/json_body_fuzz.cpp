// json_body on arbitrary bodies (first byte even) and on objects written from fields drawn
// from the input (first byte odd).
// Invariants: a written object reads back exactly: each string within its limit, each bool,
// null as absent, any other type refused; only() accepts exactly the objects whose members
// are all listed; every refusal becomes a problem+json body that is itself valid JSON.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "fuzz/fuzz_check.hpp"
#include "fuzz/response_check.hpp"
#include "server/http/json_body.hpp"
#include "server/http/json_writer.hpp"
#include "server/http/problem.hpp"

using namespace callsign;
using namespace callsign::server;

namespace {
constexpr std::string_view listed[] = {"user", "email", "code", "ticket", "reason", "phone_support"};

// Valid UTF-8 from code points drawn from the input (ASCII, 2-, 3- and 4-byte forms).
std::string utf8_text(FuzzedDataProvider& in, std::size_t max_chars) {
  std::string out;
  const auto count = in.ConsumeIntegralInRange<std::size_t>(0, max_chars);
  for (std::size_t i = 0; i < count && in.remaining_bytes() > 0; ++i) {
    auto cp = in.PickValueInArray({in.ConsumeIntegralInRange<std::uint32_t>(0, 0x7f),
                                   in.ConsumeIntegralInRange<std::uint32_t>(0x80, 0x7ff),
                                   in.ConsumeIntegralInRange<std::uint32_t>(0x800, 0xffff),
                                   in.ConsumeIntegralInRange<std::uint32_t>(0x10000, 0x10ffff)});
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;  // surrogates are not characters
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xc0U | (cp >> 6U)));
      out.push_back(static_cast<char>(0x80U | (cp & 0x3fU)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xe0U | (cp >> 12U)));
      out.push_back(static_cast<char>(0x80U | ((cp >> 6U) & 0x3fU)));
      out.push_back(static_cast<char>(0x80U | (cp & 0x3fU)));
    } else {
      out.push_back(static_cast<char>(0xf0U | (cp >> 18U)));
      out.push_back(static_cast<char>(0x80U | ((cp >> 12U) & 0x3fU)));
      out.push_back(static_cast<char>(0x80U | ((cp >> 6U) & 0x3fU)));
      out.push_back(static_cast<char>(0x80U | (cp & 0x3fU)));
    }
  }
  return out;
}

http_request json_request(std::string body) {
  http_request request;
  request.method = http_method::post;
  request.headers.push_back({"content-type", "application/json"});
  request.body = std::move(body);
  return request;
}

template <class T>
void check_refusal(const result<T>& outcome) {
  if (!outcome) fuzz::check_problem(error_response(outcome.error()));
}

void probe_all(const json_body& body, std::size_t limit) {
  check_refusal(body.only({"user", "email", "code"}));
  for (auto name : listed) {
    const auto text = body.optional_string(name, limit);
    const auto required = body.required_string(name, limit);
    FUZZ_CHECK(required.has_value() == (text.has_value() && text->has_value()));
    if (text && *text) FUZZ_CHECK((*text)->size() <= limit && **text == *required);
    check_refusal(text);
    check_refusal(required);
    const auto flag = body.optional_bool(name);
    check_refusal(flag);
    check_refusal(body.required_bool(name));
  }
}

struct absent {};
using field_value = std::variant<std::string, bool, absent /* null */, double>;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  if ((data[0] & 1U) == 0) {
    const auto request = json_request(std::string(reinterpret_cast<const char*>(data + 1), size - 1));
    const auto body = json_body::parse(request);
    check_refusal(body);
    if (body) probe_all(*body, (data[0] >> 1U) % 40);
    return 0;
  }

  FuzzedDataProvider in(data + 1, size - 1);
  std::map<std::string, field_value> fields;
  const int count = in.ConsumeIntegralInRange(0, 6);
  for (int i = 0; i < count; ++i) {
    std::string name = in.ConsumeBool() ? std::string(in.PickValueInArray(listed)) : utf8_text(in, 80);
    field_value value;
    switch (in.ConsumeIntegralInRange(0, 3)) {
      case 0:
        value = utf8_text(in, 40);
        break;
      case 1:
        value = in.ConsumeBool();
        break;
      case 2:
        value = absent{};
        break;
      default:
        value = static_cast<double>(in.ConsumeIntegral<std::int32_t>());
        break;
    }
    fields.emplace(std::move(name), std::move(value));  // names stay unique
  }
  json_writer writer;
  writer.begin_object();
  bool all_listed = true;
  for (const auto& [name, value] : fields) {
    writer.key(name);
    all_listed = all_listed && (name == "user" || name == "email" || name == "code");
    if (const auto* text = std::get_if<std::string>(&value)) {
      writer.value(std::string_view(*text));
    } else if (const auto* flag = std::get_if<bool>(&value)) {
      writer.value(*flag);
    } else if (std::holds_alternative<absent>(value)) {
      writer.null();
    } else {
      writer.value(std::get<double>(value));
    }
  }
  writer.end_object();
  FUZZ_CHECK(fuzz::is_json(writer.str()));

  const auto limit = in.ConsumeIntegralInRange<std::size_t>(0, 48);
  const auto body = json_body::parse(json_request(writer.str()));
  FUZZ_CHECK(body.has_value());
  FUZZ_CHECK(body->only({"user", "email", "code"}).has_value() == all_listed);
  for (auto name : listed) {
    const auto found = fields.find(std::string(name));
    const auto text = body->optional_string(name, limit);
    const auto flag = body->optional_bool(name);
    if (found == fields.end() || std::holds_alternative<absent>(found->second)) {
      FUZZ_CHECK(text.has_value() && !text->has_value());
      FUZZ_CHECK(flag.has_value() && !flag->has_value());
    } else if (const auto* expected = std::get_if<std::string>(&found->second)) {
      // A NUL inside a string is refused: C APIs would read a shorter value (issue 16).
      FUZZ_CHECK(text.has_value() == (expected->size() <= limit && expected->find('\0') == std::string::npos));
      if (text) FUZZ_CHECK(**text == *expected);
      FUZZ_CHECK(!flag.has_value());
    } else if (const auto* expected_flag = std::get_if<bool>(&found->second)) {
      FUZZ_CHECK(flag.has_value() && **flag == *expected_flag);
      FUZZ_CHECK(!text.has_value());
    } else {
      FUZZ_CHECK(!text.has_value() && !flag.has_value());
    }
  }
  probe_all(*body, limit);
  return 0;
}
