// One conditional GET of a list's URL into an upload file (docs/lists.md, "URL sources"). The
// registry asks; callsign_net answers with Beast (server/src/net/list_download.cpp), so this
// header names no Asio type and callsign_server stays free of it.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>

#include "crypto/result.hpp"
#include "server/lists/list_fetch.hpp"
#include "server/lists/list_url.hpp"
#include "server/lists/upload_file.hpp"

namespace callsign::server {

struct list_download_request {
  list_url url;
  std::optional<std::filesystem::path> ca_file;  // PEM; none: the system's CAs
  std::chrono::milliseconds timeout{300'000};    // the whole fetch: resolve, connect, TLS, body
  list_validators validators;                    // of the serving copy
  std::uint64_t max_bytes = 0;
  std::filesystem::path upload;  // where a 200's body goes (created O_EXCL, fsynced)
};

struct list_download {
  bool not_modified = false;   // 304: no file was written
  list_validators validators;  // as the response sent them (validators_from)
  stored_upload stored;        // 200: the body on disk, its size and SHA-256
};

// Thread safety: fetch() may be called from several threads at once (each call has its own
// connection); it blocks until the fetch ends or its timeout passes.
class list_downloader {
 public:
  virtual ~list_downloader() = default;
  // Any failure (DNS, connect, TLS verification, status, size, timeout, disk) is an error whose
  // message names no URL part: the caller adds the redacted URL. The upload file never
  // outlives a failure.
  virtual result<list_download> fetch(const list_download_request& request) = 0;
  // Shutdown: fetches in flight end within about 100 ms with an error, and later ones fail at
  // once, so SIGTERM never waits for a slow list server.
  virtual void stop() noexcept = 0;
};

// HTTP/1.1 over TLS 1.2+ (peer verified against ca_file or the system CAs, and against the
// host name or IP address), or plain HTTP when the URL says so. Defined in callsign_net.
std::unique_ptr<list_downloader> make_list_downloader();

}  // namespace callsign::server
