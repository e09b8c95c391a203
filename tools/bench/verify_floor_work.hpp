// verify_floor_server --work: the work the issue requires of one POST /v1/verify, done with
// callsign's own libraries but none of callsignd's architecture (no Asio, Beast, coroutines,
// router, worker pool or RocksDB reads). See verify_floor_server.cpp.
//
// Per request, on the I/O thread: the bearer token (callsign's token_verifier, with its cache of
// verified tokens, as callsignd uses it), the JSON body (simdjson on demand), the user by id or
// by normalized email (an in-memory table: more favourable than callsignd's RocksDB reads), the
// three sliding-window failure counts (user, agent, address: in-memory, one lock), the phone
// tokens of the current and previous step (HMAC derivation, then TOTP, compared in constant
// time), the replay mark, and the audit draft. On the writer thread (verify_floor_server.cpp's
// write_work_group): the entry's canonical JSON with its sequence number and the previous
// entry's SHA-256, its per-user index key, and one state-log record per group for the marks and
// counters, in one synced WriteBatch through storage::database. Left out, which only makes the
// floor cheaper: checkpoints, folding the state log, authenticator apps, metrics and logs.
#pragma once

#include <simdjson.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "crypto/constant_time.hpp"
#include "crypto/key_derivation.hpp"
#include "crypto/key_ring.hpp"
#include "crypto/totp.hpp"
#include "server/auth/token_verifier.hpp"
#include "storage/change_set.hpp"
#include "storage/rate_counters.hpp"
#include "storage/rate_window.hpp"
#include "storage/shared_state_format.hpp"
#include "storage/user_store.hpp"

namespace verify_floor {

namespace cs = callsign;

// What one request hands the writer: its audit draft and its state writes (replay mark merge or
// three counter merges). A refused request (4xx) has none and is only answered in order.
struct work_item {
  bool audited = false;
  cs::storage::audit_draft draft;
  std::vector<cs::storage::write_op> state;
};

class verify_work {
 public:
  // Users bench-user-00000 .. (users - 1), each with phone support and the email
  // make_verify_requests.py gives them; `limit` failures per window for each of the three keys.
  verify_work(cs::crypto::key_ring ring, cs::server::token_verifier tokens, std::size_t users, std::int64_t limit)
      : ring_(std::move(ring)), tokens_(std::move(tokens)), limit_(static_cast<double>(limit)), rule_{limit, 900'000} {
    char id[32];
    for (std::size_t i = 0; i < users; ++i) {
      std::snprintf(id, sizeof id, "bench-user-%05zu", i);
      users_.emplace(id, true);
      emails_.emplace(std::string(id) + "@bench.example", id);
    }
  }

  // The reply's status line, headers and body for one request; fills `item` when it is audited.
  std::string handle(std::string_view authorization, std::string_view body, std::string_view source_ip,
                     std::uint64_t request_number, work_item& item) {
    timespec wall{};
    clock_gettime(CLOCK_REALTIME, &wall);
    const std::int64_t now = wall.tv_sec;
    const std::int64_t now_ms = now * 1000 + wall.tv_nsec / 1'000'000;

    if (authorization.substr(0, 7) != "Bearer ") return problem(401, "missing bearer token");
    auto who = tokens_.verify(authorization.substr(7), now);
    if (!who) return problem(401, "invalid bearer token");
    if (who->role != cs::server::role::agent) return problem(403, "agents only");

    std::string user_field, email_field, code, ticket, reason;
    if (!parse_body(body, user_field, email_field, code, ticket, reason)) return problem(400, "malformed body");
    if (user_field.empty() == email_field.empty()) return problem(400, "give exactly one of 'user' or 'email'");
    if (code.size() != 6 || code.find_first_not_of("0123456789") != std::string::npos)
      return problem(400, "field 'code' must be 6 digits");

    std::optional<std::string> user;
    if (!user_field.empty()) {
      if (!cs::storage::valid_user_id(user_field)) return problem(400, "field 'user' is not a valid user id");
      if (users_.count(user_field) != 0) user = user_field;
    } else {
      auto normalized = cs::storage::normalize_email(email_field);
      if (!normalized) return problem(400, "field 'email' is not a valid email");
      if (auto found = emails_.find(*normalized); found != emails_.end()) user = found->second;
    }
    const std::string subject = user ? *user : "email:" + email_field;

    cs::storage::audit_draft& draft = item.draft;
    item.audited = true;
    draft.time = now;
    draft.actor_type = "agent";
    draft.actor_id = who->subject;
    draft.action = "verify";
    draft.subject = user.value_or("");
    draft.source_ip = std::string(source_ip);
    char request_id[24];
    std::snprintf(request_id, sizeof request_id, "floor-%016llx", static_cast<unsigned long long>(request_number));
    draft.request_id = request_id;
    draft.details.emplace_back("lookup", user_field.empty() ? "email" : "id");
    if (!ticket.empty()) draft.details.emplace_back("ticket", ticket);
    if (!reason.empty()) draft.details.emplace_back("reason", reason);

    const std::array<std::string, 3> keys = {"verify/user/" + subject, "verify/agent/" + who->subject,
                                             "verify/ip/" + std::string(source_ip)};
    // The codes are computed whether or not the user exists, as callsignd does.
    const auto params = cs::crypto::totp_params{};
    const std::uint64_t step = cs::crypto::totp_step(params, now);
    const std::array<std::uint64_t, 2> steps = {step - 1, step};
    auto expected = cs::crypto::phone_tokens_at_steps(ring_.current(), subject, params, steps);
    std::optional<std::uint64_t> matched;
    for (std::size_t i = 0; i < expected.size(); ++i) {
      if (cs::crypto::constant_time_equal(std::string_view(expected[i]), code) && !matched) matched = steps[i];
      cs::crypto::secure_wipe(expected[i]);
    }

    bool valid = false;
    std::string outcome = user ? "invalid" : "unknown_user";
    {
      const std::lock_guard lock(mutex_);
      for (const auto& key : keys) {
        const auto found = counters_.find(key);
        if (found != counters_.end() && found->second.measure(rule_, now_ms).value >= limit_) {
          draft.outcome = "throttled";
          return problem(429, "too many failed verifications");
        }
      }
      if (user && matched) {
        auto& mark = marks_[*user];
        if (*matched > mark) {
          mark = *matched;
          valid = true;
          outcome = "valid";
          item.state.push_back({cs::storage::write_op::kind::merge, cs::storage::column_family::replay_marks,
                                cs::storage::replay_mark_record_key(*user, "phone_token"),
                                cs::storage::encode_replay_mark(*matched)});
        } else {
          outcome = "replayed";
        }
      }
      if (!valid) {
        for (const auto& key : keys) {
          auto [at, added] = counters_.try_emplace(key, cs::storage::rate_window::empty(rule_, now_ms));
          at->second.add(1, now_ms);
          item.state.push_back({cs::storage::write_op::kind::merge, cs::storage::column_family::counters,
                                cs::storage::sliding_window_record_key(key),
                                cs::storage::encode_rate_window(at->second)});
        }
      }
    }
    draft.outcome = outcome;
    if (valid) draft.details.emplace_back("method", "phone_token");
    std::string json = valid ? R"({"valid":true,"method":"phone_token","user":)" : R"({"valid":false,"method":null,"user":)";
    json += user ? "\"" + *user + "\"}" : "null}";
    return reply(200, json);
  }

 private:
  static std::string reply(int status, std::string_view json) {
    const char* reason = status == 200 ? "OK" : status == 429 ? "Too Many Requests" : "Client Error";
    return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: " +
           (status == 200 ? "application/json" : "application/problem+json") +
           "\r\nContent-Length: " + std::to_string(json.size()) + "\r\n\r\n" + std::string(json);
  }
  static std::string problem(int status, std::string_view detail) {
    return reply(status, R"({"type":"about:blank","status":)" + std::to_string(status) + R"(,"detail":")" +
                             std::string(detail) + "\"}");
  }

  // The verify body's five optional string members; false for anything else (callsignd gives
  // each case its own problem; the floor only needs to refuse them).
  static bool parse_body(std::string_view body, std::string& user, std::string& email, std::string& code,
                         std::string& ticket, std::string& reason) {
    thread_local simdjson::ondemand::parser parser;
    thread_local std::string padded;
    padded.assign(body);
    padded.resize(body.size() + simdjson::SIMDJSON_PADDING);
    simdjson::ondemand::document doc;
    if (parser.iterate(padded.data(), body.size(), padded.size()).get(doc) != simdjson::SUCCESS) return false;
    simdjson::ondemand::object object;
    if (doc.get_object().get(object) != simdjson::SUCCESS) return false;
    for (auto field : object) {
      std::string_view key, value;
      if (field.unescaped_key().get(key) != simdjson::SUCCESS) return false;
      if (field.value().get_string().get(value) != simdjson::SUCCESS) return false;
      std::string* target = key == "user" ? &user : key == "email" ? &email : key == "code" ? &code
                          : key == "ticket" ? &ticket : key == "reason" ? &reason : nullptr;
      if (target == nullptr || value.size() > 512) return false;
      target->assign(value);
    }
    return true;
  }

  const cs::crypto::key_ring ring_;
  const cs::server::token_verifier tokens_;
  const double limit_;
  const cs::storage::rate_limit rule_;  // exact up to storage::max_exact_limit, as callsignd counts
  std::unordered_map<std::string, bool> users_;          // id -> phone support
  std::unordered_map<std::string, std::string> emails_;  // normalized email -> id
  std::mutex mutex_;
  std::unordered_map<std::string, std::uint64_t> marks_;  // user -> last accepted step
  std::unordered_map<std::string, cs::storage::rate_window> counters_;
};

}  // namespace verify_floor
