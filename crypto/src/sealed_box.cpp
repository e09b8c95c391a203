#include "crypto/sealed_box.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <climits>
#include <initializer_list>
#include <memory>

#include "crypto/constant_time.hpp"
#include "crypto/key_derivation.hpp"
#include "crypto/random_bytes.hpp"

namespace callsign::crypto {
namespace {

using bytes_view = std::span<const std::uint8_t>;

struct cipher_ctx_deleter {
  void operator()(EVP_CIPHER_CTX* ctx) const noexcept { EVP_CIPHER_CTX_free(ctx); }
};
using cipher_ctx_ptr = std::unique_ptr<EVP_CIPHER_CTX, cipher_ctx_deleter>;

constexpr std::size_t raw_header_size = 1;
constexpr std::size_t ring_header_size = 1 + 4;
// EVP lengths are ints; sealed values here are a few dozen bytes.
constexpr std::size_t max_length = static_cast<std::size_t>(INT_MAX) / 2;

bytes_view as_bytes(std::string_view text) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// One message for every way opening can fail after parsing, so a caller (or an attacker
// watching responses) cannot tell a wrong key from wrong associated data or tampering.
error authentication_failed() {
  return make_error(error_kind::invalid_input, "sealed data failed authentication");
}

error malformed() {
  return make_error(error_kind::invalid_input, "sealed data is malformed");
}

error openssl_failed() {
  return make_error(error_kind::internal, "AES-GCM is not available");
}

bool add_aad(EVP_CIPHER_CTX* ctx, std::initializer_list<bytes_view> aad) noexcept {
  for (const bytes_view part : aad) {
    if (part.empty()) continue;
    if (part.size() > max_length) return false;
    int ignored = 0;
    if (EVP_CipherUpdate(ctx, nullptr, &ignored, part.data(), static_cast<int>(part.size())) != 1) return false;
  }
  return true;
}

// Appends ciphertext || tag to `out`. The AAD parts are authenticated in order, without
// first concatenating them into a buffer.
result<void> gcm_encrypt_into(std::string& out, bytes_view key, bytes_view nonce, bytes_view plaintext,
                              std::initializer_list<bytes_view> aad) {
  if (plaintext.size() > max_length) return make_error(error_kind::invalid_input, "plaintext is too large to seal");
  const cipher_ctx_ptr ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_EncryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), key.data(), nonce.data(), nullptr) != 1 ||
      !add_aad(ctx.get(), aad)) {
    return openssl_failed();
  }
  const std::size_t start = out.size();
  out.resize(start + plaintext.size() + sealed_tag_size);
  auto* cipher = reinterpret_cast<unsigned char*>(out.data() + start);
  int written = 0;
  if (!plaintext.empty() &&
      EVP_EncryptUpdate(ctx.get(), cipher, &written, plaintext.data(), static_cast<int>(plaintext.size())) != 1) {
    return openssl_failed();
  }
  int final_written = 0;
  if (EVP_EncryptFinal_ex(ctx.get(), cipher + written, &final_written) != 1 ||
      static_cast<std::size_t>(written) + static_cast<std::size_t>(final_written) != plaintext.size() ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(sealed_tag_size),
                          cipher + plaintext.size()) != 1) {
    return openssl_failed();
  }
  return {};
}

// `sealed` is ciphertext || tag. On failure nothing decrypted survives.
result<std::vector<std::uint8_t>> gcm_decrypt(bytes_view key, bytes_view nonce, bytes_view sealed,
                                              std::initializer_list<bytes_view> aad) {
  if (sealed.size() < sealed_tag_size) return malformed();
  if (sealed.size() > max_length) return malformed();
  const bytes_view ciphertext = sealed.first(sealed.size() - sealed_tag_size);
  // OpenSSL's ctrl takes a non-const pointer even to read the expected tag.
  std::array<std::uint8_t, sealed_tag_size> tag{};
  std::copy_n(sealed.end() - static_cast<std::ptrdiff_t>(sealed_tag_size), sealed_tag_size, tag.begin());

  const cipher_ctx_ptr ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_DecryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), key.data(), nonce.data(), nullptr) != 1 ||
      !add_aad(ctx.get(), aad)) {
    return openssl_failed();
  }
  std::vector<std::uint8_t> plain(ciphertext.size());
  int written = 0;
  if (!ciphertext.empty() && EVP_DecryptUpdate(ctx.get(), plain.data(), &written, ciphertext.data(),
                                               static_cast<int>(ciphertext.size())) != 1) {
    secure_wipe(plain);
    return openssl_failed();
  }
  int final_written = 0;
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(sealed_tag_size), tag.data()) != 1) {
    secure_wipe(plain);
    return openssl_failed();
  }
  if (EVP_DecryptFinal_ex(ctx.get(), plain.data() + written, &final_written) != 1) {
    secure_wipe(plain);  // GCM decrypts before the tag is checked: drop the unauthenticated bytes
    return authentication_failed();
  }
  return plain;
}

result<std::string> seal_under(bytes_view key, bytes_view header, bytes_view plaintext,
                               std::string_view associated_data) {
  std::array<std::uint8_t, sealed_nonce_size> nonce{};
  if (auto filled = random_bytes(nonce); !filled) return filled.error();
  std::string blob;
  blob.reserve(header.size() + nonce.size() + plaintext.size() + sealed_tag_size);
  blob.append(reinterpret_cast<const char*>(header.data()), header.size());
  blob.append(reinterpret_cast<const char*>(nonce.data()), nonce.size());
  if (auto sealed = gcm_encrypt_into(blob, key, nonce, plaintext, {header, as_bytes(associated_data)}); !sealed) {
    return sealed.error();
  }
  return blob;
}

result<std::vector<std::uint8_t>> open_under(bytes_view key, std::size_t header_size, std::string_view blob,
                                             std::string_view associated_data) {
  if (blob.size() < header_size + sealed_nonce_size + sealed_tag_size) return malformed();
  const bytes_view all = as_bytes(blob);
  return gcm_decrypt(key, all.subspan(header_size, sealed_nonce_size), all.subspan(header_size + sealed_nonce_size),
                     {all.first(header_size), as_bytes(associated_data)});
}

std::array<std::uint8_t, ring_header_size> ring_header(std::uint32_t version) noexcept {
  return {sealed_format_key_ring, static_cast<std::uint8_t>(version >> 24U), static_cast<std::uint8_t>(version >> 16U),
          static_cast<std::uint8_t>(version >> 8U), static_cast<std::uint8_t>(version)};
}

derived_key ring_sealing_key(const master_key& master) {
  return derive_key(master, authenticator_seal_label, {});
}

}  // namespace

result<std::string> aes256_gcm_encrypt(std::span<const std::uint8_t, sealed_key_size> key,
                                       std::span<const std::uint8_t, sealed_nonce_size> nonce,
                                       std::span<const std::uint8_t> plaintext,
                                       std::span<const std::uint8_t> associated_data) {
  std::string out;
  if (auto sealed = gcm_encrypt_into(out, key, nonce, plaintext, {associated_data}); !sealed) return sealed.error();
  return out;
}

result<std::vector<std::uint8_t>> aes256_gcm_decrypt(std::span<const std::uint8_t, sealed_key_size> key,
                                                     std::span<const std::uint8_t, sealed_nonce_size> nonce,
                                                     std::span<const std::uint8_t> sealed,
                                                     std::span<const std::uint8_t> associated_data) {
  return gcm_decrypt(key, nonce, sealed, {associated_data});
}

result<std::string> seal(std::span<const std::uint8_t, sealed_key_size> key, std::span<const std::uint8_t> plaintext,
                         std::string_view associated_data) {
  constexpr std::array<std::uint8_t, raw_header_size> header{sealed_format_raw_key};
  return seal_under(key, header, plaintext, associated_data);
}

result<std::vector<std::uint8_t>> open_sealed(std::span<const std::uint8_t, sealed_key_size> key, std::string_view blob,
                                              std::string_view associated_data) {
  if (blob.empty() || static_cast<std::uint8_t>(blob.front()) != sealed_format_raw_key) return malformed();
  return open_under(key, raw_header_size, blob, associated_data);
}

result<std::string> seal_with_ring(const key_ring& ring, std::span<const std::uint8_t> plaintext,
                                   std::string_view associated_data) {
  const master_key& master = ring.current();
  derived_key key = ring_sealing_key(master);
  auto sealed = seal_under(key, ring_header(master.version), plaintext, associated_data);
  secure_wipe(key);
  return sealed;
}

result<std::uint32_t> sealed_key_version(std::string_view blob) {
  if (blob.size() < ring_header_size + sealed_nonce_size + sealed_tag_size ||
      static_cast<std::uint8_t>(blob.front()) != sealed_format_key_ring) {
    return malformed();
  }
  std::uint32_t version = 0;
  for (std::size_t i = 1; i < ring_header_size; ++i) {
    version = (version << 8U) | static_cast<std::uint8_t>(blob[i]);
  }
  return version;
}

result<std::vector<std::uint8_t>> open_with_ring(const key_ring& ring, std::string_view blob,
                                                 std::string_view associated_data) {
  const auto version = sealed_key_version(blob);
  if (!version) return version.error();
  const master_key* master = ring.find(*version);
  if (master == nullptr) {
    return make_error(error_kind::not_found,
                      "sealed data names master key version " + std::to_string(*version) + ", which the ring lacks");
  }
  derived_key key = ring_sealing_key(*master);
  auto opened = open_under(key, ring_header_size, blob, associated_data);
  secure_wipe(key);
  return opened;
}

}  // namespace callsign::crypto
