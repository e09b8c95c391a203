// Settings (docs/security.md, "TLS"): TLS 1.2 or 1.3 only; TLS 1.2 limited to ECDHE with AEAD
// ciphers; the server's cipher order; no compression, no renegotiation; no server-side session
// cache (resumption uses stateless tickets, so memory does not grow with the number of clients);
// SSL_MODE_RELEASE_BUFFERS, so an idle connection holds no record buffers.
#include "net/tls_context.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ssl/context.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace callsign::server::net_detail {

void tls_free::operator()(ssl_st* ssl) const noexcept { SSL_free(ssl); }

struct tls_context::impl {
  boost::asio::ssl::context ctx{boost::asio::ssl::context::tls_server};
};

namespace {

constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// OpenSSL's reason for the last failure (e.g. "no start line"), without any file content.
std::string openssl_reason() {
  unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
  return reason != nullptr ? std::string(reason) : std::string("unknown reason");
}

error file_error(std::string_view key, const std::filesystem::path& path, std::string_view problem) {
  return make_error(error_kind::invalid_input,
                    "tls." + std::string(key) + " " + path.string() + ": " + std::string(problem));
}

// A readable regular file, else an error naming it.
result<void> check_readable(std::string_view key, const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return file_error(key, path, ec ? ec.message() : "not found or not a regular file");
  }
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return file_error(key, path, std::strerror(errno));
  }
  std::fclose(f);
  return {};
}

// An encrypted key would make OpenSSL prompt on the terminal: refuse instead.
int no_passphrase(char*, int, int, void*) { return 0; }

int select_http11(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen,
                  void*) {
  static const unsigned char ours[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, ours, sizeof ours, in, inlen) == OPENSSL_NPN_NEGOTIATED) {
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;  // no ALPN, or only protocols we do not speak (e.g. h2): plain HTTP/1.1
}

std::string asn1_time_text(const ASN1_TIME* t) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return {};
  std::string text;
  if (ASN1_TIME_print(bio, t) == 1) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    text.assign(data, static_cast<std::size_t>(n));
  }
  BIO_free(bio);
  return text;
}

}  // namespace

tls_context::tls_context(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
tls_context::~tls_context() = default;

result<std::unique_ptr<tls_context>> tls_context::load(const tls_config& cfg) {
  if (!cfg.cert_file || !cfg.key_file) {
    return make_error(error_kind::invalid_input, "tls.enabled needs tls.cert_file and tls.key_file");
  }
  if (auto ok = check_readable("cert_file", *cfg.cert_file); !ok) return ok.error();
  if (auto ok = check_readable("key_file", *cfg.key_file); !ok) return ok.error();

  ERR_clear_error();
  auto p = std::make_unique<impl>();
  SSL_CTX* ctx = p->ctx.native_handle();
  if (ctx == nullptr) {
    return make_error(error_kind::unavailable, "cannot create the TLS context: " + openssl_reason());
  }
  const int min_version = cfg.min_version == tls_version::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
  if (SSL_CTX_set_min_proto_version(ctx, min_version) != 1 ||
      SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1) {
    return make_error(error_kind::unavailable, "cannot configure the TLS context: " + openssl_reason());
  }
  // OpenSSL 3 refuses client-started renegotiation unless SSL_OP_ALLOW_CLIENT_RENEGOTIATION;
  // SSL_OP_NO_RENEGOTIATION also stops the server side from ever starting one.
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_clear_options(ctx, SSL_OP_ALLOW_CLIENT_RENEGOTIATION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
  SSL_CTX_set_alpn_select_cb(ctx, select_http11, nullptr);

  const std::string cert_path = cfg.cert_file->string();
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_path.c_str()) != 1) {
    return file_error("cert_file", *cfg.cert_file, "holds no PEM certificate OpenSSL can use (" + openssl_reason() + ")");
  }
  // The key is read apart from SSL_CTX_use_PrivateKey_file so that "cannot read the key" and
  // "the key does not belong to the certificate" are told apart.
  const std::string key_path = cfg.key_file->string();
  BIO* key_bio = BIO_new_file(key_path.c_str(), "rb");
  EVP_PKEY* key = key_bio != nullptr ? PEM_read_bio_PrivateKey(key_bio, nullptr, no_passphrase, nullptr) : nullptr;
  BIO_free(key_bio);
  if (key == nullptr) {
    return file_error("key_file", *cfg.key_file,
                      "holds no unencrypted PEM private key OpenSSL can use (" + openssl_reason() + ")");
  }
  const int used = SSL_CTX_use_PrivateKey(ctx, key);
  EVP_PKEY_free(key);
  if (used != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return make_error(error_kind::invalid_input, "tls.key_file " + key_path + " does not match the certificate in tls.cert_file " +
                                                     cert_path);
  }

  auto loaded = std::unique_ptr<tls_context>(new tls_context(std::move(p)));
  if (X509* leaf = SSL_CTX_get0_certificate(ctx)) {
    if (char* name = X509_NAME_oneline(X509_get_subject_name(leaf), nullptr, 0)) {
      loaded->subject_ = name;
      OPENSSL_free(name);
    }
    loaded->not_after_ = asn1_time_text(X509_get0_notAfter(leaf));
  }
  return loaded;
}

tls_handle tls_context::new_session(int fd) const {
  tls_handle ssl(SSL_new(impl_->ctx.native_handle()));
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  SSL_set_accept_state(ssl.get());
  return ssl;
}

}  // namespace callsign::server::net_detail
