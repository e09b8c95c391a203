// Authenticator enrollment (server/verification/authenticator_enrollment.hpp), once per state
// backend: start, confirm with the right and wrong code, throttled confirm, re-enroll, remove.
// Real RocksDB stores, a manual clock, no sockets; change sets are committed as the routes do.
#include <boost/test/unit_test.hpp>

#include "crypto/base32.hpp"
#include "crypto/otpauth_uri.hpp"
#include "crypto/totp.hpp"
#include "verification_fixture.hpp"

using namespace callsign;
using namespace std::chrono_literals;

namespace {

storage::audit_draft draft(std::string action) {
  storage::audit_draft d;
  d.actor_type = "customer";
  d.actor_id = "alice";
  d.action = std::move(action);
  d.subject = "alice";
  return d;
}

// A started enrollment's secret as an authenticator app would hold it (from the otpauth URI).
struct app {
  crypto::hmac_key key;
  crypto::totp_params params;
  std::string code_at(std::int64_t now, int offset) const {
    return crypto::totp_code_at_step(key, params, crypto::totp_step(params, now) + static_cast<std::uint64_t>(offset));
  }
};

// Writes a decision as the routes do: the record through the directory, conditional on the
// version it was decided from, with the staged changes (their audit drafts are checked by the
// tests, not journaled here).
template <typename F>
void apply(F& f, const std::string& user, const server::enrollment_write& write, const storage::change_set& changes) {
  storage::change_set extra;
  extra.ops = changes.ops;
  auto put = test::wait_for<std::uint64_t>([&](auto done) {
    f.backend.authenticators().put(user, write.record, write.expected_version, std::move(extra), std::move(done));
  });
  BOOST_REQUIRE_MESSAGE(put, (put ? std::string() : put.error().message));
}

template <typename F>
std::pair<app, server::enrollment_started> start(F& f, const std::string& user = "alice") {
  auto found = test::wait_for<std::optional<storage::stored_user>>(
      [&](auto done) { f.backend.users().find(user, std::move(done)); });
  BOOST_REQUIRE(found && *found);
  storage::change_set changes;
  auto started = test::wait_for<server::enrollment_started>([&](auto done) {
    server::start_enrollment(f.enrollment_context(), (*found)->record, draft("authenticator.enroll"), changes,
                             std::move(done));
  });
  BOOST_REQUIRE(started);
  BOOST_REQUIRE_EQUAL(changes.audit.size(), 1U);
  BOOST_TEST(changes.audit.front().outcome == "pending");
  apply(f, user, started->write, changes);
  auto parsed = crypto::parse_otpauth_uri(started->otpauth_uri);
  BOOST_REQUIRE(parsed);
  BOOST_TEST((crypto::base32_decode(started->secret_base32).value() == parsed->secret));
  auto key = crypto::hmac_key::create(parsed->algorithm, parsed->secret);
  BOOST_REQUIRE(key);
  crypto::totp_params params;
  params.algorithm = parsed->algorithm;
  params.digits = parsed->digits;
  params.period = parsed->period;
  return {app{std::move(key).value(), params}, std::move(started).value()};
}

// One confirm, written as the routes do; the audit outcome or "" when none.
template <typename F>
std::pair<result<server::confirm_outcome>, std::string> confirm(F& f, const std::string& code,
                                                                 const std::string& user = "alice") {
  storage::change_set changes;
  auto out = test::wait_for<server::confirm_outcome>([&](auto done) {
    server::confirm_enrollment(f.enrollment_context(), user, code, draft("authenticator.confirm"), changes,
                               std::move(done));
  });
  if (out && out->status == server::confirm_status::throttled) {
    BOOST_TEST(changes.ops.empty());  // nothing counted: only the audit entry
  }
  if (out && out->write) {
    apply(f, user, *out->write, changes);
  } else {
    f.commit(changes);
  }
  return {std::move(out), changes.audit.empty() ? std::string() : changes.audit.front().outcome};
}

template <typename F>
storage::authenticator_record record_of(F& f, const std::string& user = "alice") {
  auto found = test::wait_for<storage::stored_authenticator>(
      [&](auto done) { f.backend.authenticators().find(user, std::move(done)); });
  BOOST_REQUIRE(found);
  return found->record;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(authenticator_enrollment_suite)

BOOST_AUTO_TEST_CASE_TEMPLATE(start_stages_a_pending_secret_that_does_not_verify_yet, backend, test::state_backends) {
  test::verification_fixture<backend> f;
  const auto [phone, started] = start(f);
  BOOST_TEST(started.otpauth_uri.starts_with("otpauth://totp/"));
  const auto record = record_of(f);
  BOOST_TEST(record.pending_sealed.has_value());
  BOOST_TEST(!record.active_sealed.has_value());
  BOOST_TEST(record.pending_since == f.now());
  BOOST_TEST(f.verify("alice", phone.code_at(f.now(), 0)).second.outcome == "invalid");
  // No enrollment for bob: confirm has nothing to activate.
  auto none = confirm(f, "123456", "bob").first;
  BOOST_REQUIRE(!none);
  BOOST_TEST(static_cast<int>(none.error().kind) == static_cast<int>(error_kind::conflict));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(the_right_code_activates_and_is_used_up, backend, test::state_backends) {
  test::verification_fixture<backend> f;
  const auto [phone, started] = start(f);
  const std::string code = phone.code_at(f.now(), 0);
  const auto [out, audit] = confirm(f, code);
  BOOST_REQUIRE(out);
  BOOST_TEST(static_cast<int>(out->status) == static_cast<int>(server::confirm_status::active));
  BOOST_TEST(audit == "active");
  BOOST_TEST(out->write->record.activated_at == f.now());
  const auto record = record_of(f);
  BOOST_TEST(record.active_sealed.has_value());
  BOOST_TEST(!record.pending_sealed.has_value());
  BOOST_TEST((f.backend.marks.last_step("alice", "authenticator").value() == std::optional<std::uint64_t>(f.step())));
  // The confirming code cannot then verify a caller, nor confirm again.
  BOOST_TEST(f.verify("alice", code).second.outcome == "replayed");
  auto again = confirm(f, phone.code_at(f.now(), 1)).first;
  BOOST_REQUIRE(!again);
  BOOST_TEST(static_cast<int>(again.error().kind) == static_cast<int>(error_kind::conflict));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(confirm_takes_the_steps_verify_takes, backend, test::state_backends) {
  test::verification_fixture<backend> f;
  f.config.verify.authenticator_steps_ahead = 1;
  const auto [phone, started] = start(f);
  BOOST_TEST(confirm(f, phone.code_at(f.now(), -2)).second == "invalid");
  BOOST_TEST(confirm(f, phone.code_at(f.now(), 2)).second == "invalid");
  BOOST_TEST(confirm(f, phone.code_at(f.now(), 1)).second == "active");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_wrong_code_is_counted_and_the_enrollment_stays_pending, backend, test::state_backends) {
  test::verification_fixture<backend> f;
  const auto [phone, started] = start(f);
  const auto [out, audit] = confirm(f, "000000");
  BOOST_REQUIRE(out);
  BOOST_TEST(static_cast<int>(out->status) == static_cast<int>(server::confirm_status::invalid));
  BOOST_TEST(audit == "invalid");
  BOOST_TEST(record_of(f).pending_sealed.has_value());
  const storage::rate_limit limit{f.config.verify.user_failures, f.config.verify.window_seconds * 1000};
  BOOST_TEST(f.backend.counters.estimate(server::confirm_user_key("alice"), f.now_ms(), limit).value().value == 1.0);
  BOOST_TEST(confirm(f, phone.code_at(f.now(), 0)).second == "active");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(confirm_throttles_at_the_limit_with_retry_after, backend, test::state_backends) {
  test::verification_fixture<backend> f;
  f.config.verify.user_failures = 2;
  f.config.verify.window_seconds = 60;
  const auto [phone, started] = start(f);
  BOOST_TEST(confirm(f, "000000").second == "invalid");
  BOOST_TEST(confirm(f, "111111").second == "invalid");
  f.advance(5s);
  const auto [out, audit] = confirm(f, phone.code_at(f.now(), 0));  // right, but too late
  BOOST_REQUIRE(out);
  BOOST_TEST(static_cast<int>(out->status) == static_cast<int>(server::confirm_status::throttled));
  BOOST_TEST(out->retry_after_seconds == 55);
  BOOST_TEST(audit == "throttled");
  BOOST_TEST(record_of(f).pending_sealed.has_value());
  f.advance(55s);
  BOOST_TEST(confirm(f, phone.code_at(f.now(), 0)).second == "active");
}

namespace {
// An enrollment read that fails; everything else is the real directory.
class failing_authenticators final : public storage::authenticator_directory {
 public:
  explicit failing_authenticators(storage::authenticator_directory& real) : real_(real) {}
  void find(std::string_view, storage::completion<storage::stored_authenticator> done) override {
    done(make_error(error_kind::storage_failed, "IO error: /secret/path/000042.sst"));
  }
  void put(std::string user, storage::authenticator_record record, std::uint64_t expected_version,
           storage::change_set extra, storage::completion<std::uint64_t> done) override {
    real_.put(std::move(user), std::move(record), expected_version, std::move(extra), std::move(done));
  }

 private:
  storage::authenticator_directory& real_;
};

void check_failed_entry(const storage::change_set& changes, const std::string& code) {
  BOOST_TEST_REQUIRE(changes.audit.size() == 1U);
  const auto& entry = changes.audit.front();
  BOOST_TEST(entry.action == "authenticator.confirm");
  BOOST_TEST(entry.outcome == "failed");
  BOOST_TEST(entry.subject == "alice");
  BOOST_TEST(test::audit_detail(entry, "error").value_or("") == "unavailable");  // the kind, never the message
  for (const auto& [key, value] : entry.details) {
    BOOST_TEST(value.find(code) == std::string::npos, key);
    BOOST_TEST(value.find("unreachable") == std::string::npos, key);
    BOOST_TEST(value.find("/secret/path") == std::string::npos, key);
  }
}
}  // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(a_confirm_the_backend_cannot_settle_is_journaled_as_failed, backend,
                              test::state_backends) {
  test::verification_fixture<backend> f;
  const auto [phone, started] = start(f);
  const std::string code = phone.code_at(f.now(), 0);
  test::failing_attempts failing;
  const server::enrollment_context ctx{f.ring, f.config, f.clock, f.backend.authenticators(), failing, &f.work};
  storage::change_set changes;
  auto out = test::wait_for<server::confirm_outcome>([&](auto done) {
    server::confirm_enrollment(ctx, "alice", code, draft("authenticator.confirm"), changes, std::move(done));
  });
  BOOST_TEST_REQUIRE(out.has_value());
  BOOST_TEST(static_cast<int>(out->status) == static_cast<int>(server::confirm_status::failed));
  BOOST_TEST_REQUIRE(out->failure.has_value());  // the reply is the error
  BOOST_TEST(static_cast<int>(out->failure->kind) == static_cast<int>(error_kind::unavailable));
  BOOST_TEST(!out->write.has_value());  // nothing is activated
  check_failed_entry(changes, code);
  BOOST_TEST(record_of(f).pending_sealed.has_value());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_confirm_whose_enrollment_read_fails_is_journaled_as_failed, backend,
                              test::state_backends) {
  test::verification_fixture<backend> f;
  const auto [phone, started] = start(f);
  const std::string code = phone.code_at(f.now(), 0);
  failing_authenticators failing(f.backend.authenticators());
  const server::enrollment_context ctx{f.ring, f.config, f.clock, failing, f.backend.attempts, &f.work};
  storage::change_set changes;
  auto out = test::wait_for<server::confirm_outcome>([&](auto done) {
    server::confirm_enrollment(ctx, "alice", code, draft("authenticator.confirm"), changes, std::move(done));
  });
  BOOST_TEST_REQUIRE(out.has_value());
  BOOST_TEST(static_cast<int>(out->status) == static_cast<int>(server::confirm_status::failed));
  BOOST_TEST_REQUIRE(out->failure.has_value());
  BOOST_TEST(static_cast<int>(out->failure->kind) == static_cast<int>(error_kind::storage_failed));
  check_failed_entry(changes, code);
  BOOST_TEST(changes.ops.empty());  // nothing was settled
}

BOOST_AUTO_TEST_CASE_TEMPLATE(re_enrolling_replaces_the_secret_on_confirm_only, backend, test::state_backends) {
  test::verification_fixture<backend> f;
  const auto [first, first_started] = start(f);
  BOOST_TEST(confirm(f, first.code_at(f.now(), 0)).second == "active");
  f.advance(60s);
  const auto [second, second_started] = start(f);
  BOOST_TEST(second_started.secret_base32 != first_started.secret_base32);
  auto record = record_of(f);
  BOOST_TEST((record.active_sealed.has_value() && record.pending_sealed.has_value()));
  // Until the new secret is confirmed, the old one still verifies.
  BOOST_TEST(f.verify("alice", first.code_at(f.now(), 0)).first.valid);
  BOOST_TEST(confirm(f, second.code_at(f.now(), 1)).second == "active");
  f.advance(60s);
  BOOST_TEST(f.verify("alice", first.code_at(f.now(), 0)).second.outcome == "invalid");
  BOOST_TEST(f.verify("alice", second.code_at(f.now(), 0)).first.valid);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(remove_drops_the_secrets_but_not_the_marks, backend, test::state_backends) {
  test::verification_fixture<backend> f;
  const auto [phone, started] = start(f);
  BOOST_TEST(confirm(f, phone.code_at(f.now(), 0)).second == "active");
  const auto used = f.step();
  storage::change_set changes;
  auto removed = test::wait_for<server::enrollment_write>([&](auto done) {
    server::remove_enrollment(f.enrollment_context(), "alice", draft("authenticator.remove"), changes, std::move(done));
  });
  BOOST_REQUIRE(removed);
  BOOST_TEST(removed->record.empty());
  BOOST_REQUIRE_EQUAL(changes.audit.size(), 1U);
  BOOST_TEST(changes.audit.front().outcome == "removed");
  apply(f, "alice", *removed, changes);
  BOOST_TEST(record_of(f).empty());
  f.advance(30s);
  BOOST_TEST(f.verify("alice", phone.code_at(f.now(), 0)).second.outcome == "invalid");
  BOOST_TEST((f.backend.marks.last_step("alice", "authenticator").value() == std::optional<std::uint64_t>(used)));
  storage::change_set again;
  auto none = test::wait_for<server::enrollment_write>([&](auto done) {
    server::remove_enrollment(f.enrollment_context(), "alice", draft("authenticator.remove"), again, std::move(done));
  });
  BOOST_REQUIRE(!none);
  BOOST_TEST(static_cast<int>(none.error().kind) == static_cast<int>(error_kind::not_found));
  BOOST_TEST(again.empty());
}

// Two enrollments started from one read (two tabs): the first write wins, the second is a
// conflict and leaves the first's pending secret in place (no lost update, no lock).
BOOST_AUTO_TEST_CASE_TEMPLATE(two_starts_from_one_read_let_one_write_through, backend, test::state_backends) {
  test::verification_fixture<backend> f;
  auto user = test::wait_for<std::optional<storage::stored_user>>(
      [&](auto done) { f.backend.users().find("alice", std::move(done)); });
  BOOST_REQUIRE(user && *user);
  std::vector<server::enrollment_started> decided;
  for (int i = 0; i < 2; ++i) {
    storage::change_set changes;
    auto started = test::wait_for<server::enrollment_started>([&](auto done) {
      server::start_enrollment(f.enrollment_context(), (*user)->record, draft("authenticator.enroll"), changes,
                               std::move(done));
    });
    BOOST_REQUIRE(started);
    decided.push_back(std::move(started).value());
  }
  BOOST_TEST(decided[0].write.expected_version == decided[1].write.expected_version);
  apply(f, "alice", decided[0].write, {});
  auto second = test::wait_for<std::uint64_t>([&](auto done) {
    f.backend.authenticators().put("alice", decided[1].write.record, decided[1].write.expected_version, {},
                                   std::move(done));
  });
  BOOST_REQUIRE(!second);
  BOOST_TEST(static_cast<int>(second.error().kind) == static_cast<int>(error_kind::conflict));
  BOOST_TEST(*record_of(f).pending_sealed == *decided[0].write.record.pending_sealed);
}

BOOST_AUTO_TEST_SUITE_END()
