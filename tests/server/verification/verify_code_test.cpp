// verify_code in storage/crypto terms, once per state backend (in-memory fake, embedded):
// single use, throttles, the accepted steps, key-rotation overlap, equal work for unknown users,
// authenticator apps' steps ahead. Real RocksDB users, a manual clock, no sockets.
#include <boost/test/unit_test.hpp>

#include "crypto/totp.hpp"
#include "verification_fixture.hpp"

using namespace callsign;
using namespace std::chrono_literals;

namespace {

// Gives `user` an active authenticator with a known secret; returns its key.
template <typename F>
crypto::hmac_key enroll_known_secret(F& f, const std::string& user) {
  const std::vector<std::uint8_t> secret(20, 0x42);
  auto sealed = crypto::seal_with_ring(f.ring, secret, user);
  BOOST_REQUIRE(sealed);
  storage::authenticator_record record;
  record.active_sealed = *sealed;
  record.activated_at = f.now();
  f.put_authenticator(user, record);
  auto key = crypto::hmac_key::create(f.config.authenticator.params.algorithm, secret);
  BOOST_REQUIRE(key);
  return std::move(key).value();
}

template <typename F>
std::string app_code(F& f, const crypto::hmac_key& key, int offset) {
  const auto& params = f.config.authenticator.params;
  return crypto::totp_code_at_step(key, params,
                                   crypto::totp_step(params, f.now()) + static_cast<std::uint64_t>(offset));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(verify_code_suite)

BOOST_AUTO_TEST_CASE_TEMPLATE(a_code_is_single_use_and_no_earlier_step_follows_a_later_one, backend,
                              test::state_backends) {
  test::verification_fixture<backend> f;
  const std::string code = f.token("alice");
  const auto [first, first_audit] = f.verify("alice", code);
  BOOST_TEST(first.valid);
  BOOST_TEST(first.method.value_or("") == "phone_token");
  BOOST_TEST(first_audit.outcome == "valid");
  BOOST_TEST((f.backend.marks.last_step("alice", "phone_token").value() == std::optional<std::uint64_t>(f.step())));

  const auto [again, again_audit] = f.verify("alice", code);
  BOOST_TEST(!again.valid);
  BOOST_TEST(again_audit.outcome == "replayed");
  // The previous step's token is still inside the window, but a later step was used already.
  const auto [earlier, earlier_audit] = f.verify("alice", f.token("alice", -1));
  BOOST_TEST(!earlier.valid);
  BOOST_TEST(earlier_audit.outcome == "replayed");
  // Another user's marks are their own.
  BOOST_TEST(f.verify("bob", f.token("bob")).first.valid);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(the_previous_step_verifies_two_back_and_one_ahead_do_not, backend, test::state_backends) {
  test::verification_fixture<backend> f;
  f.config.verify.user_failures = 100;
  BOOST_TEST(f.verify("alice", f.token("alice", -2)).second.outcome == "invalid");
  BOOST_TEST(f.verify("alice", f.token("alice", 1)).second.outcome == "invalid");  // phone tokens: never ahead
  const auto [previous, audit] = f.verify("alice", f.token("alice", -1));
  BOOST_TEST(previous.valid);
  BOOST_TEST(audit.outcome == "valid");
  BOOST_TEST((f.backend.marks.last_step("alice", "phone_token").value() == std::optional<std::uint64_t>(f.step() - 1)));
  // The current step is later than the one just used, so it verifies too.
  BOOST_TEST(f.verify("alice", f.token("alice")).first.valid);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(throttles_at_exactly_the_limit_with_retry_after, backend, test::state_backends) {
  test::verification_fixture<backend> f;
  f.config.verify.user_failures = 3;
  f.config.verify.window_seconds = 60;
  for (int i = 0; i < 3; ++i) {
    const auto [out, audit] = f.verify("alice", "000000");
    BOOST_TEST(!out.throttled);
    BOOST_TEST(audit.outcome == "invalid");
  }
  f.advance(10s);
  // The limit is reached: even the right code is refused, and nothing is counted or claimed.
  const auto [throttled, audit] = f.verify("alice", f.token("alice"));
  BOOST_TEST(throttled.throttled);
  BOOST_TEST(!throttled.valid);
  BOOST_TEST(throttled.retry_after_seconds == 50);  // the first failure leaves the window at +60 s
  BOOST_TEST(audit.outcome == "throttled");
  BOOST_TEST(!f.backend.marks.last_step("alice", "phone_token").value().has_value());
  // Other users are not held up by alice's failures.
  BOOST_TEST(f.verify("bob", f.token("bob")).first.valid);
  // Once the first failure leaves the window, the right code verifies.
  f.advance(50s);
  BOOST_TEST(f.verify("alice", f.token("alice")).first.valid);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(agent_and_address_failures_are_counted_across_users, backend, test::state_backends) {
  test::verification_fixture<backend> f;
  f.config.verify.agent_failures = 2;
  f.config.verify.ip_failures = 3;
  f.verify("alice", "000000", "agent-a", "192.0.2.1");
  f.verify("bob", "000000", "agent-a", "192.0.2.1");
  const auto [agent_out, agent_audit] = f.verify("carol", "000000", "agent-a", "192.0.2.9");
  BOOST_TEST(agent_out.throttled);  // agent-a reached 2
  BOOST_TEST(agent_audit.outcome == "throttled");
  f.verify("carol", "000000", "agent-b", "192.0.2.1");  // the address's third failure
  BOOST_TEST(f.verify("alice", f.token("alice"), "agent-c", "192.0.2.1").first.throttled);
  BOOST_TEST(f.verify("alice", f.token("alice"), "agent-c", "192.0.2.2").first.valid);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(the_previous_key_verifies_only_during_the_overlap, backend, test::state_backends) {
  test::verification_fixture<backend> f;
  const auto [old_out, old_audit] = f.verify("alice", f.token("alice", 0, 1));
  BOOST_TEST(old_out.valid);
  BOOST_TEST(test::audit_detail(old_audit, "key_version").value_or("none") == "1");
  const auto [new_out, new_audit] = f.verify("bob", f.token("bob", 0, 2));
  BOOST_TEST(new_out.valid);
  BOOST_TEST(!test::audit_detail(new_audit, "key_version").has_value());

  f.clock.set(std::chrono::system_clock::time_point(std::chrono::seconds(test::rotated_at + 3600 + 15)));
  BOOST_TEST(f.verify("alice", f.token("alice", 0, 1)).second.outcome == "invalid");
  BOOST_TEST(f.verify("alice", f.token("alice", 0, 2)).first.valid);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(unknown_and_ineligible_users_cost_the_same_work, backend, test::state_backends) {
  test::verification_fixture<backend> f;
  f.config.verify.user_failures = 100;
  f.config.verify.agent_failures = 100;
  f.config.verify.ip_failures = 100;
  auto work_of = [&f](const std::string& user) {
    f.work.keys = 0;
    f.work.candidates = 0;
    f.verify(user, "000000");
    return std::pair<std::uint64_t, std::uint64_t>(f.work.keys.load(), f.work.candidates.load());
  };
  const auto known = work_of("alice");  // eligible, no authenticator, wrong code
  const auto unknown = work_of("mallory");
  const auto ineligible = work_of("carol");
  // Two key versions, each the previous and the current step.
  BOOST_TEST(known.first == 2U);
  BOOST_TEST(known.second == 4U);
  BOOST_TEST((unknown == known));
  BOOST_TEST((ineligible == known));
  const auto mallory = f.verify("mallory", f.token("mallory")).second;
  BOOST_TEST(mallory.outcome == "unknown_user");
  BOOST_TEST(mallory.subject == "mallory");  // journaled under the id tried
  BOOST_TEST(!mallory.subject_exists);       // but never shared as a user's entry
  const auto carol = f.verify("carol", f.token("carol")).second;
  BOOST_TEST(carol.outcome == "not_eligible");
  BOOST_TEST(carol.subject_exists);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_claim_counts_even_when_its_commit_never_lands, backend, test::state_backends) {
  // The writer failed (a full disk): the verify's changes never reach RocksDB and the agent gets
  // a 503. The claim was made in memory when the attempt settled, so the code stays burnt; the
  // failure counts a wrong code made likewise stay counted.
  test::verification_fixture<backend> f;
  f.config.verify.user_failures = 3;
  const std::string code = f.token("alice");
  auto attempt = [&](const std::string& c) {
    server::verify_request request;
    request.user_id = "alice";
    request.code = c;
    request.agent_id = "agent-1";
    request.source_ip = "192.0.2.1";
    storage::change_set dropped;  // never committed
    const auto ctx = f.verify_context();
    auto out = test::wait_for<server::verify_outcome>(
        [&](auto done) { server::verify_code(ctx, request, f.now_ms(), dropped, std::move(done)); });
    BOOST_TEST_REQUIRE(out.has_value());
    return *out;
  };
  BOOST_TEST(attempt(code).valid);
  const auto [again, again_audit] = f.verify("alice", code);
  BOOST_TEST(!again.valid);
  BOOST_TEST(again_audit.outcome == "replayed");  // failure 1
  BOOST_TEST(!attempt("000000").valid);            // failure 2: its commit never lands
  BOOST_TEST(f.verify("alice", "000001").second.outcome == "invalid");  // failure 3
  BOOST_TEST(f.verify("alice", f.token("alice")).second.outcome == "throttled");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(an_attempt_the_backend_cannot_settle_is_journaled_as_failed, backend,
                              test::state_backends) {
  test::verification_fixture<backend> f;
  test::failing_attempts failing;
  const server::verification_context ctx{f.ring, f.config, f.backend.users(), f.backend.authenticators(), failing,
                                         &f.work};
  server::verify_request request;
  request.user_id = "alice";
  request.code = f.token("alice");
  request.agent_id = "agent-1";
  request.source_ip = "192.0.2.1";
  request.ticket = "T-9";
  storage::change_set changes;
  auto out = test::wait_for<server::verify_outcome>(
      [&](auto done) { server::verify_code(ctx, request, f.now_ms(), changes, std::move(done)); });
  BOOST_TEST_REQUIRE(out.has_value());
  BOOST_TEST_REQUIRE(out->failure.has_value());  // the reply is the error
  BOOST_TEST((out->failure->kind == error_kind::unavailable));
  BOOST_TEST(!out->valid);
  BOOST_TEST_REQUIRE(changes.audit.size() == 1U);  // and the attempt leaves its entry
  const auto& entry = changes.audit.front();
  BOOST_TEST(entry.action == "verify");
  BOOST_TEST(entry.outcome == "failed");
  BOOST_TEST(entry.subject == "alice");
  BOOST_TEST(entry.actor_id == "agent-1");
  BOOST_TEST(test::audit_detail(entry, "error").value_or("") == "unavailable");  // the kind, never the message
  BOOST_TEST(test::audit_detail(entry, "ticket").value_or("") == "T-9");
  for (const auto& [key, value] : entry.details) {
    BOOST_TEST(value.find(request.code) == std::string::npos, key);
    BOOST_TEST(value.find("unreachable") == std::string::npos, key);
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(authenticator_codes_verify_steps_ahead_and_are_single_use, backend,
                              test::state_backends) {
  test::verification_fixture<backend> f;
  f.config.verify.authenticator_steps_ahead = 2;
  f.config.verify.user_failures = 100;
  const auto key = enroll_known_secret(f, "alice");
  BOOST_TEST(f.verify("alice", app_code(f, key, 3)).second.outcome == "invalid");
  BOOST_TEST(f.verify("alice", app_code(f, key, -2)).second.outcome == "invalid");
  const auto [ahead, audit] = f.verify("alice", app_code(f, key, 2));
  BOOST_TEST(ahead.valid);
  BOOST_TEST(ahead.method.value_or("") == "authenticator");
  BOOST_TEST(test::audit_detail(audit, "method").value_or("") == "authenticator");
  // A step before the one used is spent; the phone token is a separate method with its own marks.
  BOOST_TEST(f.verify("alice", app_code(f, key, 1)).second.outcome == "replayed");
  BOOST_TEST(f.verify("alice", f.token("alice")).first.valid);
  // Not eligible: the authenticator is not even tried.
  enroll_known_secret(f, "carol");
  BOOST_TEST(f.verify("carol", app_code(f, key, 0)).second.outcome == "not_eligible");
}

BOOST_AUTO_TEST_SUITE_END()
