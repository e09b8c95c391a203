#include "server/json_writer.hpp"

#include <array>
#include <charconv>
#include <cmath>

#include "storage/json_text.hpp"

namespace callsign::server {

void json_writer::separate() {
  if (need_comma_) {
    out_.push_back(',');
  }
}

json_writer& json_writer::begin_object() {
  separate();
  out_.push_back('{');
  need_comma_ = false;
  return *this;
}

json_writer& json_writer::end_object() {
  out_.push_back('}');
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::begin_array() {
  separate();
  out_.push_back('[');
  need_comma_ = false;
  return *this;
}

json_writer& json_writer::end_array() {
  out_.push_back(']');
  need_comma_ = true;
  return *this;
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
  separate();
  std::array<char, 24> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), number);
  out_.append(buf.data(), end);
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::value(std::uint64_t number) {
  separate();
  std::array<char, 24> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), number);
  out_.append(buf.data(), end);
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::value(double number) {
  if (!std::isfinite(number)) {
    return null();
  }
  separate();
  std::array<char, 32> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), number);
  out_.append(buf.data(), end);
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::value(bool flag) {
  separate();
  out_ += flag ? "true" : "false";
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::null() {
  separate();
  out_ += "null";
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::raw(std::string_view json) {
  separate();
  out_ += json;
  need_comma_ = true;
  return *this;
}

}  // namespace callsign::server
