// Errors as values for crypto/ and storage/. server/http maps error_kind to HTTP in one place.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace callsign {

enum class error_kind {
  invalid_input,   // caller sent something malformed
  unsupported_media_type,  // body is not in a type the route accepts
  not_found,
  conflict,
  rejected,        // well-formed but refused (e.g. a confirmation code that does not match)
  unauthorized,
  forbidden,
  rate_limited,
  unavailable,     // a dependency (disk, database) is not usable right now
  storage_failed,  // a database read or write failed (disk full, I/O error): the message names
                   // files and RocksDB's reason, so it is for the log; clients get a generic 503
  would_block,     // a read would wait for the disk where the caller said it must not
                   // (storage::nonblocking_reads): run the work again where waiting is allowed
  internal,
};

// Message text is shown to operators and clients: never put secrets, codes or keys in it.
struct error {
  error_kind kind = error_kind::internal;
  std::string message;
};

inline error make_error(error_kind kind, std::string message) {
  return error{kind, std::move(message)};
}

template <class T>
class [[nodiscard]] result {
 public:
  result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
  result(callsign::error err) : state_(std::in_place_index<1>, std::move(err)) {}  // NOLINT(google-explicit-constructor)

  bool has_value() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const callsign::error& error() const& { return std::get<1>(state_); }

 private:
  std::variant<T, callsign::error> state_;
};

// Result of an operation with no value.
template <>
class [[nodiscard]] result<void> {
 public:
  result() = default;
  result(callsign::error err) : err_(std::move(err)), ok_(false) {}  // NOLINT(google-explicit-constructor)

  bool has_value() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  const callsign::error& error() const& { return err_; }

 private:
  callsign::error err_{};
  bool ok_ = true;
};

}  // namespace callsign
