// Builds compact JSON text. Parsing is simdjson's job; this only writes. Strings are escaped by
// storage/json_text.hpp, the tree's one JSON string escaper.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace callsign::server {

// Not thread-safe; one writer per response.
class json_writer {
 public:
  json_writer& begin_object();
  json_writer& end_object();
  json_writer& begin_array();
  json_writer& end_array();
  json_writer& key(std::string_view name);
  json_writer& value(std::string_view text);
  json_writer& value(const char* text) { return value(std::string_view(text)); }
  json_writer& value(std::int64_t number);
  json_writer& value(std::uint64_t number);
  json_writer& value(int number) { return value(static_cast<std::int64_t>(number)); }
  json_writer& value(unsigned number) { return value(static_cast<std::uint64_t>(number)); }
  json_writer& value(double number);
  json_writer& value(bool flag);
  json_writer& null();
  // Inserts already-encoded JSON.
  json_writer& raw(std::string_view json);

  template <class T>
  json_writer& field(std::string_view name, const T& v) {
    key(name);
    return value(v);
  }

  const std::string& str() const& { return out_; }
  std::string str() && { return std::move(out_); }

 private:
  void separate();                             // a comma when a value came before
  json_writer& open(char bracket);             // '{' or '[' after a comma if one is due
  json_writer& close(char bracket);            // '}' or ']'
  json_writer& scalar(std::string_view json);  // an encoded value after a comma if one is due
  std::string out_;
  bool need_comma_ = false;
};

}  // namespace callsign::server
