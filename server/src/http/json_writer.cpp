#include "server/http/json_writer.hpp"

#include <array>
#include <charconv>
#include <cmath>

#include "storage/json_text.hpp"

namespace callsign::server {
namespace {

// Shortest round-trip text of an integer or a finite double (32 bytes hold either).
template <class Number>
std::string_view number_text(std::array<char, 32>& buf, Number number) {
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), number);
  return {buf.data(), static_cast<std::size_t>(end - buf.data())};
}

}  // namespace

void json_writer::separate() {
  if (need_comma_) out_.push_back(',');
}

json_writer& json_writer::open(char bracket) {
  separate();
  out_.push_back(bracket);
  need_comma_ = false;
  return *this;
}

json_writer& json_writer::close(char bracket) {
  out_.push_back(bracket);
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::scalar(std::string_view json) {
  separate();
  out_ += json;
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::begin_object() {
  return open('{');
}
json_writer& json_writer::end_object() {
  return close('}');
}
json_writer& json_writer::begin_array() {
  return open('[');
}
json_writer& json_writer::end_array() {
  return close(']');
}

json_writer& json_writer::key(std::string_view name) {
  separate();
  storage::append_json_string(out_, name);
  out_.push_back(':');
  need_comma_ = false;
  return *this;
}

json_writer& json_writer::value(std::string_view text) {
  separate();
  storage::append_json_string(out_, text);
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::value(std::int64_t number) {
  std::array<char, 32> buf{};
  return scalar(number_text(buf, number));
}

json_writer& json_writer::value(std::uint64_t number) {
  std::array<char, 32> buf{};
  return scalar(number_text(buf, number));
}

json_writer& json_writer::value(double number) {
  if (!std::isfinite(number)) return null();
  std::array<char, 32> buf{};
  return scalar(number_text(buf, number));
}

json_writer& json_writer::value(bool flag) {
  return scalar(flag ? "true" : "false");
}
json_writer& json_writer::null() {
  return scalar("null");
}
json_writer& json_writer::raw(std::string_view json) {
  return scalar(json);
}

}  // namespace callsign::server
