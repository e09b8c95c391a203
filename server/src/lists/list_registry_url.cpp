// The registry's URL sources (docs/lists.md, "URL sources"): a conditional GET through the
// injected downloader into an upload file, then list_registry::install_upload, so validation
// and the atomic swap are the upload's. The download runs outside the reload lock (a slow list
// server must not hold up other lists' reloads and uploads); one fetch per list at a time.
#include <algorithm>
#include <array>
#include <fstream>
#include <system_error>
#include <vector>

#include "crypto/hex.hpp"
#include "crypto/sha256_stream.hpp"
#include "lists/list_registry_slot.hpp"

namespace callsign::server {
namespace {

std::size_t index_of(list_id id) noexcept { return static_cast<std::size_t>(id); }

// The SHA-256 (hex) of a whole file, read in 1 MiB blocks; empty when it cannot be read.
std::string file_sha256(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  crypto::sha256_stream digest;
  std::vector<char> block(1 << 20);
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    const auto got = static_cast<std::size_t>(in.gcount());
    digest.update({reinterpret_cast<const std::uint8_t*>(block.data()), got});
  }
  if (in.bad()) return {};
  return crypto::hex_encode(digest.finish());
}

}  // namespace

std::unique_ptr<list_source_url> make_list_source_url(const list_source_config& config, std::uint64_t limit) {
  if (!config.url) return nullptr;
  auto parsed = parse_list_url(*config.url);
  if (!parsed) return nullptr;  // parse_config refused it already
  auto source = std::make_unique<list_source_url>();
  source->url = std::move(parsed).value();
  source->sha256 = config.sha256;
  source->max_bytes = std::min(config.max_bytes.value_or(limit), limit);
  source->ca_file = config.ca_file;
  source->timeout = config.fetch_timeout;
  return source;
}

bool list_registry::has_url_source(list_id id) const noexcept { return slots_[index_of(id)]->url != nullptr; }

error list_registry::record_failure(list_id id, const error& err) {
  const error named = make_error(err.kind, std::string(list_name(id)) + ": " + err.message);
  const std::lock_guard status_lock(status_mutex_);
  slot& s = *slots_[index_of(id)];
  s.status.last_checked = clock_.unix_seconds();
  s.status.last_error = named.message;
  return named;
}

// Start-up: the last good download serves until the first fetch, unless sha256 pins other bytes.
void list_registry::load_download_copy(list_id id) {
  slot& s = *slots_[index_of(id)];
  std::string problem;
  std::error_code ec;
  if (!std::filesystem::exists(s.source, ec)) {
    problem = "not downloaded yet from " + s.url->url.redacted();
  } else if (s.url->sha256 && file_sha256(s.source) != *s.url->sha256) {
    problem = "the last download does not match the configured sha256; waiting for a new download";
  }
  if (!problem.empty()) {
    const std::lock_guard status_lock(status_mutex_);
    s.status.last_error = std::string(list_name(id)) + ": " + problem;
    return;
  }
  const std::lock_guard lock(reload_mutex_);
  (void)load(id, s.source, false);
}

result<reload_outcome> list_registry::fetch(list_id id, const ordered_report& report) {
  slot& s = *slots_[index_of(id)];
  list_source_url& source = *s.url;
  const std::lock_guard fetching(source.fetching);
  {
    const std::lock_guard status_lock(status_mutex_);
    source.attempted = true;
  }
  // Every refusal names the redacted URL: no userinfo, no query.
  auto fail = [&](const error& err) -> result<reload_outcome> {
    const std::lock_guard lock(reload_mutex_);
    result<reload_outcome> outcome = record_failure(id, make_error(err.kind, "GET " + source.url.redacted() + ": " +
                                                                                 err.message));
    if (report) report(id, outcome);
    return outcome;
  };
  if (downloader_ == nullptr) return fail(make_error(error_kind::unavailable, "this process cannot download lists"));
  auto upload = upload_path(id);
  if (!upload) return fail(upload.error());
  // A serving copy rewritten in place (serving_damaged) is fetched whole: a 304 would keep it.
  const list_validators validators = serving_damaged(id) ? list_validators{} : source.validators;
  auto got = downloader_->fetch({source.url, source.ca_file, source.timeout, validators, source.max_bytes, *upload});
  if (!got) return fail(got.error());

  if (got->not_modified) {
    const std::lock_guard lock(reload_mutex_);
    if (s.status.version == 0) {
      result<reload_outcome> outcome = record_failure(
          id, make_error(error_kind::unavailable, "GET " + source.url.redacted() +
                                                      ": the server answered 304 but no download is loaded"));
      if (report) report(id, outcome);
      return outcome;
    }
    // A 304 may carry fresher validators (RFC 9110 15.4.5); keep those it sends.
    if (!got->validators.etag.empty()) source.validators.etag = got->validators.etag;
    if (!got->validators.last_modified.empty()) source.validators.last_modified = got->validators.last_modified;
    result<reload_outcome> outcome = [&] {
      const std::lock_guard status_lock(status_mutex_);
      s.status.last_checked = clock_.unix_seconds();
      s.status.last_error.clear();
      s.status.etag = source.validators.etag;
      s.status.last_modified = source.validators.last_modified;
      return reload_outcome{false, s.status};
    }();
    if (report) report(id, outcome);
    return outcome;
  }

  if (source.sha256) {
    if (auto matches = check_expected_sha256(*source.sha256, got->stored.sha256); !matches) {
      std::error_code ignored;
      std::filesystem::remove(got->stored.path, ignored);
      return fail(matches.error());
    }
  }
  auto outcome = install_upload(id, got->stored.path, report);
  // Only a download that serves is worth a 304: a refused one must be fetched again in full.
  if (outcome) {
    source.validators = got->validators;
    const std::lock_guard status_lock(status_mutex_);
    s.status.etag = source.validators.etag;
    s.status.last_modified = source.validators.last_modified;
    outcome->status.etag = s.status.etag;
    outcome->status.last_modified = s.status.last_modified;
  }
  return outcome;
}

}  // namespace callsign::server
