// POST /v1/admin/users/import (admin): NDJSON users, imported as `callsign users import` does
// (server/users/user_import.hpp, docs/users.md). The session streams the body in chunks into
// memory up to import_max_bytes (this route's own limit, far above limits.body_bytes), then the
// import runs asynchronously and answers with its report.
#include "routes/user_import_routes.hpp"

#include <memory>
#include <stdexcept>

#include "routes/route_support.hpp"
#include "server/http/problem.hpp"
#include "server/users/user_import.hpp"
#include "storage/blocking_pool.hpp"

namespace callsign::server {

namespace {
constexpr std::uint64_t import_max_bytes = 256ULL * 1024 * 1024;

http_response too_large() {
  return problem_response(413, "Content Too Large",
                          "an import body may hold at most 256 MiB; split the file, or use 'callsign users import'");
}

result<void> check_media_type(const http_request& request) {
  const auto media = request.media_type();
  if (media != "application/x-ndjson" && media != "application/jsonl") {
    return make_error(error_kind::unsupported_media_type, "Content-Type must be application/x-ndjson");
  }
  return {};
}

// What the import route uses, complete at construction.
struct import_services {
  explicit import_services(app_context& context) : app(context) {}
  app_context& app;
  storage::blocking_pool resume_thread{1, "callsign-import"};  // the import goes on here
};

// Runs the import over `body` and answers 200 with the report (failed lines included).
handler_result import_users(import_services& services, const principal& who, const http_request& request,
                            std::string body) {
  auto& app = services.app;
  if (app.writer == nullptr) {
    return make_error(error_kind::unavailable, "storage writer is not running");
  }
  auto text = std::make_shared<std::string>(std::move(body));
  import_options options;
  options.now = app.clock.unix_seconds();
  options.sink = app.writer;
  options.summary = audit_for(app, who, request, "user.import", "");
  options.summary.details.emplace_back("source", "http");
  options.resume_on = services.resume_thread.executor();
  options.stop = &app.draining;  // a shutdown ends the import at the next line
  return async_response{[&app, text, options = std::move(options)](std::function<void(handler_result)> resume) {
    auto at = std::make_shared<std::size_t>(0);
    import_source source = [text, at](std::string_view& line) {
      if (*at >= text->size()) return false;
      auto end = text->find('\n', *at);
      if (end == std::string::npos) end = text->size();
      line = std::string_view(*text).substr(*at, end - *at);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      *at = end + 1;
      return true;
    };
    run_user_import(*app.user_directory, std::move(source), options, [resume](result<import_report> report) {
      if (!report) {
        resume(report.error());
        return;
      }
      if (report->interrupted) {
        // Not done: the client must run it again (lines already imported come back unchanged).
        auto refused = problem_response(
            503, "Service Unavailable",
            "the server is shutting down: the import stopped after " + std::to_string(report->lines) +
                " lines (" + std::to_string(report->created + report->updated) +
                " users written, durable); send the file again to finish it");
        resume(std::move(refused.with_header("Retry-After", "5")));
        return;
      }
      resume(json_response(200, import_report_json(*report)));
    });
  }};
}

// The admitted body, gathered in memory up to import_max_bytes.
class import_body final : public body_stream {
 public:
  import_body(import_services& services, principal who) : services_(services), who_(std::move(who)) {}

  result<void> write(std::span<const std::uint8_t> chunk) override {
    if (text_.size() + chunk.size() > import_max_bytes) {
      over_ = true;
      text_.clear();
      text_.shrink_to_fit();
      return make_error(error_kind::invalid_input, "import body too large");
    }
    text_.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
    return {};
  }
  bool over_limit() const noexcept override { return over_; }

  handler_result cut(http_request&, body_cut cut) override {
    switch (cut.why) {
      case body_cut_reason::too_large:
        return too_large();
      case body_cut_reason::store_failed:
        return cut.store_error.value_or(make_error(error_kind::unavailable, "the import body could not be stored"));
      case body_cut_reason::too_slow:
      case body_cut_reason::aborted:
        break;
    }
    return cut.reply.value_or(problem_response(400, "Bad Request", "malformed HTTP request"));
  }
  void abandoned(http_request&, std::string_view) override {}  // nothing was written yet

  handler_result finish(http_request& request) override {
    return import_users(services_, who_, request, std::move(text_));
  }

 private:
  import_services& services_;
  principal who_;
  std::string text_;
  bool over_ = false;
};

std::variant<std::unique_ptr<body_stream>, handler_result> admit_import(import_services& services,
                                                                        http_request& request, body_framing framing) {
  auto who = caller(services.app, request, {role::admin});
  if (!who) return handler_result(who.error());
  if (auto media = check_media_type(request); !media) return handler_result(media.error());
  if (framing.declared_length && *framing.declared_length > import_max_bytes) return handler_result(too_large());
  return std::make_unique<import_body>(services, std::move(*who));
}

// The same request with its body in memory (router::invoke: tests, fuzzing).
handler_result import_in_memory(import_services& services, http_request& request) {
  auto who = caller(services.app, request, {role::admin});
  if (!who) return who.error();
  if (auto media = check_media_type(request); !media) return media.error();
  if (request.body.size() > import_max_bytes) return too_large();
  return import_users(services, *who, request, std::move(request.body));
}
}  // namespace

void add_user_import_route(router& routes, app_context& app) {
  if (app.user_directory == nullptr) {
    throw std::logic_error("the import route needs the user directory");
  }
  auto services = std::make_shared<import_services>(app);
  routes.add_streamed(
      http_method::post, "/v1/admin/users/import", [services](http_request& r) { return import_in_memory(*services, r); },
      stream_steps{[services](http_request& r, body_framing framing) { return admit_import(*services, r, framing); },
                   0},
      route_execution::worker);
}

}  // namespace callsign::server
