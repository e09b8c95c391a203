// The step-boundary fan-out of GET /v1/stream without a hand-off per connection: the token
// timer builds one read-only table of every subscribed user's token (stream_token_table), and at
// the boundary each I/O thread walks its own subscribed streams (stream_fanout) and hands each
// one its user's shared message directly. No Asio; see docs/stream.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "server/stream/stream_hub.hpp"

namespace callsign::server {

// Whether a user may still be sent phone codes: the auth's rules (a registered user with phone
// support; an authenticator changes nothing), read again for every step boundary. `unknown`: the
// read failed, so no code this step, and the next boundary reads again.
enum class stream_access : std::uint8_t { allowed, no_account, no_phone_support, unknown };
// The error a stream is closed with when its user lost access: the auth's own refusal text.
// Empty for `allowed` and `unknown`.
std::string_view stream_access_error(stream_access access) noexcept;

// Every subscribed user's token message for one boundary, built once (off the I/O threads).
// Thread-safety: immutable after construction; any number of threads may read it.
class stream_token_table {
 public:
  struct entry {
    std::string user;
    std::uint64_t step = 0;
    stream_message message;  // null unless access is allowed
    stream_access access = stream_access::allowed;
  };

  // `at`: the boundary (unix seconds) at which these tokens take effect.
  explicit stream_token_table(std::vector<entry> entries, std::int64_t at = 0);
  std::int64_t at() const noexcept { return at_; }
  stream_token_table(const stream_token_table&) = delete;
  stream_token_table& operator=(const stream_token_table&) = delete;

  // The user's entry, or null when the user had no stream when the table was built.
  const entry* find(std::string_view user) const;
  std::size_t size() const noexcept { return entries_.size(); }

 private:
  std::vector<entry> entries_;
  std::unordered_map<std::string_view, std::size_t> index_;  // views into entries_[i].user
  std::int64_t at_ = 0;
};

// What a subscribed stream does with its user's entry of the boundary at `at` (unix seconds),
// given when its own token stops being valid (`valid_until`, exp + leeway): a step that starts
// at or after that moment is never sent, whichever of the close and the boundary comes first.
enum class stream_boundary_action : std::uint8_t { send, skip, close_expired, close_refused };
stream_boundary_action stream_boundary_action_for(const stream_token_table::entry& token, std::int64_t at,
                                                  std::int64_t valid_until) noexcept;

// A subscribed stream as the fan-out sees it (the net layer's session implements it).
class stream_fanout_member {
 public:
  // The user whose token this stream gets; valid while the member is in a fan-out.
  virtual std::string_view fanout_user() const = 0;
  // The boundary's entry for this stream's user (a token, or a refusal), the boundary being at
  // unix second `at`. Called on the fan-out's thread; may remove this member (and only this
  // one) from the fan-out, e.g. when the write fails or the stream closes.
  virtual void deliver_token(const stream_token_table::entry& token, std::int64_t at) = 0;

 protected:
  stream_fanout_member() = default;
  virtual ~stream_fanout_member() = default;
  stream_fanout_member(const stream_fanout_member&) = delete;
  stream_fanout_member& operator=(const stream_fanout_member&) = delete;

 private:
  friend class stream_fanout;
  static constexpr std::size_t not_listed = static_cast<std::size_t>(-1);
  std::size_t fanout_slot_ = not_listed;
};

// The subscribed streams of one I/O thread. A boundary's walk may be split over several turns of
// the thread (deliver() with a budget), so that reads and requests on the same thread still get
// their turn while thousands of frames go out.
// Thread-safety: none. One thread (the I/O thread that owns the streams) uses it; a member must
// be removed before it is destroyed.
class stream_fanout {
 public:
  stream_fanout() = default;
  stream_fanout(const stream_fanout&) = delete;
  stream_fanout& operator=(const stream_fanout&) = delete;

  void add(stream_fanout_member& member);
  void remove(stream_fanout_member& member);  // idempotent
  bool contains(const stream_fanout_member& member) const noexcept {
    return member.fanout_slot_ != stream_fanout_member::not_listed;
  }
  std::size_t size() const noexcept { return live_; }

  // Ahead of the boundary: looks every member's user up in `tokens` now (members added later are
  // looked up as they are added), so that the walk with the same table only writes.
  void prepare(std::shared_ptr<const stream_token_table> tokens);
  // Starts a walk over every member with `tokens`. A walk still under way starts over with the
  // newer table (a stream keeps only its newest token anyway).
  void begin(std::shared_ptr<const stream_token_table> tokens);
  // Delivers the walk's tokens to up to `budget` members (in the order they were added); members
  // whose user is not in the table are passed over. Members added during the walk are reached
  // too. Returns true while members remain for another call; the table is let go at the end.
  bool deliver(std::size_t budget);
  bool walking() const noexcept { return tokens_ != nullptr; }

 private:
  void compact();

  std::vector<stream_fanout_member*> members_;  // null: a removed member's hole
  // resolved_[i]: members_[i]'s entry in prepared_ (null: none); meaningful while prepared_ is set.
  std::vector<const stream_token_table::entry*> resolved_;
  std::size_t live_ = 0;
  std::size_t cursor_ = 0;
  std::shared_ptr<const stream_token_table> tokens_;    // the walk's table
  std::shared_ptr<const stream_token_table> prepared_;  // the table resolved_ refers to
};

}  // namespace callsign::server
