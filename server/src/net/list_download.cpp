// The list downloader (server/lists/list_download.hpp) on Beast: one coroutine per fetch on a
// private io_context, run by the calling thread (the list refresher or a worker), so no I/O
// thread ever waits for a list server. One absolute deadline bounds connect, handshake, request
// and body; the resolver is bounded by the system resolver's own timeouts (resolv.conf).
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <atomic>
#include <optional>
#include <vector>

#include "net/guarded_parser.hpp"
#include "server/lists/list_download.hpp"

namespace callsign::server {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::size_t chunk_bytes = 64 * 1024;

error failed(std::string_view step, const beast::error_code& ec) {
  if (ec == beast::error::timeout) return make_error(error_kind::unavailable, std::string(step) + ": timed out");
  return make_error(error_kind::unavailable, std::string(step) + ": " + ec.message());
}

std::string openssl_reason() {
  const unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
  return reason != nullptr ? reason : "unknown reason";
}

// The client context: TLS 1.2+, the peer verified against `ca_file` or the system's CAs.
result<void> configure(ssl::context& ctx, const list_download_request& request) {
  SSL_CTX* native = ctx.native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
  const int loaded = request.ca_file ? SSL_CTX_load_verify_locations(native, request.ca_file->c_str(), nullptr)
                                     : SSL_CTX_set_default_verify_paths(native);
  if (loaded != 1) {
    return make_error(error_kind::unavailable, request.ca_file ? "cannot load ca_file " + request.ca_file->string() +
                                                                     ": " + openssl_reason()
                                                               : "cannot load the system's CA certificates: " +
                                                                     openssl_reason());
  }
  return {};
}

// SNI for names (RFC 6066 has none for addresses) and the name or address the certificate must hold.
result<void> expect_peer(SSL* ssl, const list_url& url) {
  bool ok = true;
  if (url.host_is_ip) {
    ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url.host.c_str()) == 1;
  } else {
    // SSL_set_tlsext_host_name without its macro's C cast.
    ok = SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(url.host.c_str())) == 1 &&
         SSL_set1_host(ssl, url.host.c_str()) == 1;
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  }
  if (!ok) return make_error(error_kind::unavailable, "cannot set the expected TLS peer name: " + openssl_reason());
  return {};
}

http::request<http::empty_body> request_for(const list_download_request& request) {
  http::request<http::empty_body> get{http::verb::get, request.url.target, 11};
  get.set(http::field::host, request.url.host_header());
  get.set(http::field::user_agent, "callsignd list fetch");
  get.set(http::field::accept, "*/*");
  get.set(http::field::accept_encoding, "identity");
  get.set(http::field::connection, "close");
  if (auto basic = request.url.basic_authorization(); !basic.empty()) get.set(http::field::authorization, basic);
  for (const auto& [name, value] : conditional_headers(request.validators)) get.set(name, value);
  return get;
}

// Sends the GET and streams a 200's body into the upload file, counting bytes as they arrive.
template <class Stream>
net::awaitable<result<list_download>> exchange(Stream& stream, const list_download_request& request) {
  auto& lowest = beast::get_lowest_layer(stream);
  auto get = request_for(request);
  if (auto [ec, n] = co_await http::async_write(stream, get, use_tuple); ec) co_return failed("sending the request", ec);

  auto buffer = net_detail::bounded_read_buffer(16 * 1024);  // guarded_parser.hpp: no unbounded trailer
  net_detail::guarded_response_parser<http::buffer_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(boost::none);  // counted by download_budget instead
  if (auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_tuple); ec) {
    co_return failed("reading the response header", ec);
  }
  const auto& head = parser.get();
  auto verdict = judge_list_response(head.result_int(), head[http::field::content_encoding]);
  if (!verdict) co_return verdict.error();
  list_download out;
  out.validators = validators_from(head[http::field::etag], head[http::field::last_modified]);
  if (*verdict == list_response::not_modified) {
    out.not_modified = true;
    co_return out;
  }
  download_budget budget(request.max_bytes);
  if (auto declared = budget.admit_declared(parser.content_length() ? std::optional(*parser.content_length())
                                                                    : std::nullopt);
      !declared) {
    co_return declared.error();
  }
  auto file = upload_file::create(request.upload, request.max_bytes);
  if (!file) co_return file.error();
  std::vector<std::uint8_t> chunk(chunk_bytes);
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    auto [ec, n] = co_await http::async_read_some(stream, buffer, parser, use_tuple);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return failed("reading the body", ec);  // `file` removes itself
    const std::size_t got = chunk.size() - parser.get().body().size;
    if (auto counted = budget.take(got); !counted) co_return counted.error();
    if (auto stored = file->write(std::span<const std::uint8_t>(chunk.data(), got)); !stored) co_return stored.error();
  }
  beast::error_code ignored;
  lowest.socket().shutdown(tcp::socket::shutdown_both, ignored);
  auto stored = file->finish();
  if (!stored) co_return stored.error();
  out.stored = std::move(stored).value();
  co_return out;
}

net::awaitable<result<tcp::resolver::results_type>> resolve(const list_url& url) {
  tcp::resolver resolver(co_await net::this_coro::executor);
  auto [ec, results] = co_await resolver.async_resolve(url.host, std::to_string(url.port), use_tuple);
  if (ec) co_return failed("resolving the host", ec);
  co_return results;
}

net::awaitable<result<list_download>> fetch_once(const list_download_request& request, clock_type::time_point deadline) {
  auto endpoints = co_await resolve(request.url);
  if (!endpoints) co_return endpoints.error();
  if (!request.url.https) {
    beast::tcp_stream stream(co_await net::this_coro::executor);
    stream.expires_at(deadline);
    if (auto [ec, ep] = co_await stream.async_connect(*endpoints, use_tuple); ec) co_return failed("connecting", ec);
    co_return co_await exchange(stream, request);
  }
  ssl::context ctx(ssl::context::tls_client);
  if (auto configured = configure(ctx, request); !configured) co_return configured.error();
  beast::ssl_stream<beast::tcp_stream> stream(co_await net::this_coro::executor, ctx);
  if (auto expected = expect_peer(stream.native_handle(), request.url); !expected) co_return expected.error();
  auto& lowest = beast::get_lowest_layer(stream);
  lowest.expires_at(deadline);
  if (auto [ec, ep] = co_await lowest.async_connect(*endpoints, use_tuple); ec) co_return failed("connecting", ec);
  if (auto [ec] = co_await stream.async_handshake(ssl::stream_base::client, use_tuple); ec) {
    const long verified = SSL_get_verify_result(stream.native_handle());
    if (verified != X509_V_OK) {
      co_return make_error(error_kind::unavailable, std::string("TLS: the server's certificate was refused: ") +
                                                        X509_verify_cert_error_string(verified));
    }
    co_return failed("TLS handshake", ec);
  }
  co_return co_await exchange(stream, request);
}

class beast_list_downloader final : public list_downloader {
 public:
  void stop() noexcept override { stopping_ = true; }

  result<list_download> fetch(const list_download_request& request) override {
    const auto deadline = clock_type::now() + request.timeout;
    std::optional<result<list_download>> outcome;
    net::io_context io(1);
    net::co_spawn(
        io,
        [&]() -> net::awaitable<void> { outcome = co_await fetch_once(request, deadline); },
        [&outcome](std::exception_ptr thrown) {
          if (thrown && !outcome) outcome = make_error(error_kind::internal, "the download failed unexpectedly");
        });
    // The stream's deadline ends every step but name resolution; this bounds that too. Run in
    // slices so that stop() is seen.
    const auto give_up = deadline + std::chrono::seconds(1);
    while (!outcome && !stopping_ && clock_type::now() < give_up && !io.stopped()) {
      io.run_for(std::min<clock_type::duration>(std::chrono::milliseconds(100), give_up - clock_type::now()));
    }
    if (!outcome) {
      io.stop();  // the coroutine's frame, its stream and upload file go with `io`
      return make_error(error_kind::unavailable, stopping_ ? "callsignd is stopping" : "timed out (resolving the host)");
    }
    return std::move(*outcome);
  }

 private:
  std::atomic<bool> stopping_{false};
};

}  // namespace

std::unique_ptr<list_downloader> make_list_downloader() { return std::make_unique<beast_list_downloader>(); }

}  // namespace callsign::server
