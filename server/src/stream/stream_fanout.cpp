#include "server/stream/stream_fanout.hpp"

#include <utility>

namespace callsign::server {

std::string_view stream_access_error(stream_access access) noexcept {
  switch (access) {
    case stream_access::no_account:
      return "your account is not registered with callsign";
    case stream_access::no_phone_support:
      return "phone support is not enabled for your account";
    case stream_access::allowed:
    case stream_access::unknown:
      break;
  }
  return {};
}

stream_boundary_action stream_boundary_action_for(const stream_token_table::entry& token, std::int64_t at,
                                                  std::int64_t valid_until) noexcept {
  if (at >= valid_until) {
    return stream_boundary_action::close_expired;
  }
  switch (token.access) {
    case stream_access::allowed:
      return token.message ? stream_boundary_action::send : stream_boundary_action::skip;
    case stream_access::no_account:
    case stream_access::no_phone_support:
      return stream_boundary_action::close_refused;
    case stream_access::unknown:
      break;
  }
  return stream_boundary_action::skip;
}

stream_token_table::stream_token_table(std::vector<entry> entries, std::int64_t at)
    : entries_(std::move(entries)), at_(at) {
  // The views point into entries_, which is never resized after this.
  index_.reserve(entries_.size());
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    index_.emplace(std::string_view(entries_[i].user), i);
  }
}

const stream_token_table::entry* stream_token_table::find(std::string_view user) const {
  auto it = index_.find(user);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

void stream_fanout::add(stream_fanout_member& member) {
  if (contains(member)) {
    return;
  }
  member.fanout_slot_ = members_.size();
  members_.push_back(&member);
  resolved_.push_back(prepared_ ? prepared_->find(member.fanout_user()) : nullptr);
  ++live_;
}

void stream_fanout::remove(stream_fanout_member& member) {
  if (!contains(member)) {
    return;
  }
  members_[member.fanout_slot_] = nullptr;  // a hole: a walk under way keeps its place
  resolved_[member.fanout_slot_] = nullptr;
  member.fanout_slot_ = stream_fanout_member::not_listed;
  --live_;
  if (!walking() && members_.size() > 2 * live_ + 64) {
    compact();
  }
}

void stream_fanout::compact() {
  std::size_t out = 0;
  for (std::size_t i = 0; i < members_.size(); ++i) {
    if (auto* member = members_[i]) {
      member->fanout_slot_ = out;
      resolved_[out] = resolved_[i];
      members_[out++] = member;
    }
  }
  members_.resize(out);
  resolved_.resize(out);
  if (members_.capacity() > 2 * out + 64) {
    members_.shrink_to_fit();
    resolved_.shrink_to_fit();
  }
}

void stream_fanout::prepare(std::shared_ptr<const stream_token_table> tokens) {
  prepared_ = std::move(tokens);
  for (std::size_t i = 0; i < members_.size(); ++i) {
    resolved_[i] = members_[i] != nullptr && prepared_ ? prepared_->find(members_[i]->fanout_user()) : nullptr;
  }
}

void stream_fanout::begin(std::shared_ptr<const stream_token_table> tokens) {
  tokens_ = std::move(tokens);
  cursor_ = 0;
}

bool stream_fanout::deliver(std::size_t budget) {
  if (!tokens_) {
    return false;
  }
  // A member may remove itself while it is handed its token; members_ is only appended to or
  // holed during a walk, so indexes stay valid.
  const bool prepared = prepared_ != nullptr && prepared_ == tokens_;
  std::size_t visited = 0;
  while (cursor_ < members_.size() && visited < budget) {
    const auto i = cursor_++;
    auto* member = members_[i];
    if (member == nullptr) {
      continue;
    }
    ++visited;
    const auto* token = prepared ? resolved_[i] : tokens_->find(member->fanout_user());
    if (token != nullptr) {
      member->deliver_token(*token, tokens_->at());
    }
  }
  if (cursor_ < members_.size()) {
    return true;
  }
  if (prepared) {
    prepared_.reset();
  }
  tokens_.reset();
  cursor_ = 0;
  if (members_.size() > 2 * live_ + 64) {
    compact();
  }
  return false;
}

}  // namespace callsign::server
