#include "server/auth/verification_keys.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <system_error>

#include "crypto/constant_time.hpp"
#include "crypto/random_bytes.hpp"
#include "storage/private_file.hpp"

namespace callsign::server {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t max_pem_size = 65536;

struct pkey_deleter {
  void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
struct bio_deleter {
  void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
struct file_closer {
  void operator()(std::FILE* file) const noexcept { std::fclose(file); }
};

// The key the PEM text holds, read the same way libjwt reads it (PEM_read_bio_PUBKEY).
result<std::unique_ptr<EVP_PKEY, pkey_deleter>> read_public_key(std::string_view pem) {
  // PEM_read_bio_PUBKEY skips blocks it does not want, so a file holding a private key next
  // to the public one would pass; a private key has no business on the verifying side.
  if (pem.find("PRIVATE KEY") != std::string_view::npos) {
    return make_error(error_kind::invalid_input, "holds a private key; give callsignd only the public key");
  }
  if (pem.size() > max_pem_size) return make_error(error_kind::invalid_input, "is too large for a PEM public key");
  const std::unique_ptr<BIO, bio_deleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return make_error(error_kind::internal, "cannot allocate");
  std::unique_ptr<EVP_PKEY, pkey_deleter> key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return make_error(error_kind::invalid_input, "is not a PEM public key (\"BEGIN PUBLIC KEY\")");
  return key;
}

result<std::string> read_public_file(const fs::path& path) {
  const std::unique_ptr<std::FILE, file_closer> file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    const int code = errno;
    return make_error(code == ENOENT ? error_kind::not_found : error_kind::unavailable,
                      "cannot open " + path.string() + ": " + std::generic_category().message(code));
  }
  std::string text(max_pem_size + 1, '\0');
  const std::size_t got = std::fread(text.data(), 1, text.size(), file.get());
  if (std::ferror(file.get()) != 0) return make_error(error_kind::unavailable, "cannot read " + path.string());
  if (got > max_pem_size)
    return make_error(error_kind::invalid_input, path.string() + " is too large for a public key");
  text.resize(got);
  return text;
}

result<std::string> load_public_key_file(const fs::path& path, result<void> (*check)(std::string_view),
                                         std::string_view config_key) {
  auto text = read_public_file(path);
  if (!text) return make_error(text.error().kind, "auth." + std::string(config_key) + ": " + text.error().message);
  if (auto checked = check(*text); !checked) {
    return make_error(checked.error().kind,
                      "auth." + std::string(config_key) + ": " + path.string() + " " + checked.error().message);
  }
  return text;
}

result<std::string> read_hs256_file(const fs::path& path) {
  auto secret = storage::read_private_file(path, max_hs256_key_size);
  if (!secret) return secret;
  if (secret->size() < min_hs256_key_size) {
    crypto::secure_wipe(*secret);
    return make_error(error_kind::invalid_input,
                      path.string() + " holds fewer than 32 bytes; an HS256 key needs " + "at least 32 random bytes");
  }
  return secret;
}

result<std::string> random_hs256_key() {
  std::array<std::uint8_t, min_hs256_key_size> bytes{};
  if (auto filled = crypto::random_bytes(bytes); !filled) return filled.error();
  std::string key(bytes.begin(), bytes.end());
  crypto::secure_wipe(bytes);
  return key;
}

}  // namespace

verification_keys::~verification_keys() {
  crypto::secure_wipe(hs256_secret);
}

result<void> check_es256_public_key(std::string_view pem) {
  auto key = read_public_key(pem);
  if (!key) return key.error();
  std::array<char, 64> group{};
  std::size_t length = 0;
  if (!EVP_PKEY_is_a(key->get(), "EC") ||
      EVP_PKEY_get_group_name(key->get(), group.data(), group.size(), &length) != 1 ||
      std::string_view(group.data(), length) != "prime256v1") {
    return make_error(error_kind::invalid_input, "is not a P-256 (prime256v1) EC public key, which ES256 needs");
  }
  return {};
}

result<void> check_rs256_public_key(std::string_view pem) {
  auto key = read_public_key(pem);
  if (!key) return key.error();
  if (!EVP_PKEY_is_a(key->get(), "RSA")) {
    return make_error(error_kind::invalid_input, "is not an RSA public key, which RS256 needs");
  }
  if (EVP_PKEY_get_bits(key->get()) < 2048) {
    return make_error(error_kind::invalid_input, "is an RSA key shorter than 2048 bits");
  }
  return {};
}

result<verification_keys> load_verification_keys(const auth_config& config, const fs::path& data_dir, bool dev_mode) {
  verification_keys keys;
  const bool public_key_configured = config.es256_public_key_file || config.rs256_public_key_file;
  if (config.hs256_key_file) {
    auto secret = read_hs256_file(*config.hs256_key_file);
    if (!secret) return make_error(secret.error().kind, "auth.hs256_key_file: " + secret.error().message);
    keys.hs256_secret = std::move(secret).value();
  } else if (dev_mode || !public_key_configured) {
    const fs::path path = data_dir / dev_hs256_key_file_name;
    auto secret = storage::read_or_create_private_file(path, max_hs256_key_size, random_hs256_key);
    if (!secret) return secret.error();
    if (secret->size() < min_hs256_key_size) {
      crypto::secure_wipe(*secret);
      return make_error(error_kind::invalid_input,
                        path.string() + " holds fewer than 32 bytes; delete it and " + "callsignd creates a new one");
    }
    keys.hs256_secret = std::move(secret).value();
  }
  if (config.es256_public_key_file) {
    auto pem = load_public_key_file(*config.es256_public_key_file, check_es256_public_key, "es256_public_key_file");
    if (!pem) return pem.error();
    keys.es256_public_pem = std::move(pem).value();
  }
  if (config.rs256_public_key_file) {
    auto pem = load_public_key_file(*config.rs256_public_key_file, check_rs256_public_key, "rs256_public_key_file");
    if (!pem) return pem.error();
    keys.rs256_public_pem = std::move(pem).value();
  }
  return keys;
}

result<std::string> load_hs256_signing_key(const auth_config& config, const fs::path& data_dir) {
  return read_hs256_file(config.hs256_key_file ? *config.hs256_key_file : data_dir / dev_hs256_key_file_name);
}

}  // namespace callsign::server
