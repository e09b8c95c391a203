// Bulk user import (POST /v1/admin/users/import, `callsign users import`): NDJSON lines of
// {"id","email","phone_support"}, each validated as PUT /v1/users/{id} validates its body
// (user_fields.hpp), written through storage::user_directory conditional on the version read.
// A line equal to the stored user writes nothing, so a re-run is idempotent. Writes are
// pipelined (up to `window` in flight, sharing the group commit's fsyncs) but keep the file's
// order wherever two lines touch one id or email: a line waits for the writes in flight when
// it shares a key with one of them. One summary audit entry is written per import, once every
// user write is durable (docs/users.md). No thread waits: a completion resumes the import.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"
#include "storage/change_set.hpp"
#include "storage/user_directory.hpp"

namespace callsign::server {

struct import_line_error {
  std::uint64_t line = 0;  // 1-based, blank lines counted
  error reason;            // names the field and the rule, never the value
};

struct import_report {
  std::uint64_t lines = 0;  // non-blank lines read
  std::uint64_t created = 0;
  std::uint64_t updated = 0;
  std::uint64_t unchanged = 0;
  std::uint64_t failed = 0;
  std::vector<import_line_error> errors;  // the first max_reported_errors of them
  bool errors_truncated = false;
  // options.stop was raised (shutdown): lines after `lines` were not read. Every write answered
  // is durable and the summary says so (outcome "interrupted"); a re-run finishes the import.
  bool interrupted = false;
};

struct import_options {
  std::size_t window = 1024;  // user writes in flight at most
  std::size_t max_reported_errors = 1000;
  std::int64_t now = 0;  // unix seconds: created_at / updated_at of written users
  // The summary entry ("user.import", outcome "ok" or "partial", counts as details) with actor,
  // source and request id filled in; written through `sink` when set.
  storage::audit_draft summary;
  storage::commit_sink* sink = nullptr;
  // Where the import runs (reading and parsing lines), from the start and after every
  // completion: a thread of its own (a one-thread storage::blocking_pool), never the writer's
  // nor an I/O thread. Empty: on the caller's thread, then on the completing one.
  std::function<void(std::function<void()>)> resume_on;
  // When set and true: read no further line, let the writes in flight land, write the summary
  // and answer (callsignd's draining flag, so a shutdown neither waits for the rest of a large
  // file nor loses the import's audit entry).
  const std::atomic<bool>* stop = nullptr;
};

// Gives the next line without its line ending; false at the end of the input. The view stays
// valid until the next call. Called from one thread at a time, never concurrently.
using import_source = std::function<bool(std::string_view& line)>;

// Runs one import: `done` is called once, from any thread, with the report, or with an error
// when the input could not be read or the summary could not be written (every user write that
// was answered before is durable all the same). `progress` (optional) hears the lines read so
// far now and then. The directory must outlive the call.
void run_user_import(storage::user_directory& users, import_source source, import_options options,
                     std::function<void(result<import_report>)> done,
                     std::function<void(std::uint64_t lines)> progress = {});

// The report as the HTTP reply's JSON: counts, and errors as {"line","reason"} (client-safe text).
std::string import_report_json(const import_report& report);

}  // namespace callsign::server
