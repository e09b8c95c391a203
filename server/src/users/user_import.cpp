#include "server/users/user_import.hpp"

#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "server/http/json_writer.hpp"
#include "server/http/problem.hpp"
#include "server/users/user_fields.hpp"

namespace callsign::server {

namespace {

// One import's state. The pump (one thread at a time, see pump()) reads lines and starts calls;
// completions, from any thread, only record their answer under `mutex` and pump again.
class import_run : public std::enable_shared_from_this<import_run> {
 public:
  import_run(storage::user_directory& users, import_source source, import_options options,
             std::function<void(result<import_report>)> done, std::function<void(std::uint64_t)> progress)
      : users_(users), source_(std::move(source)), options_(std::move(options)), done_(std::move(done)),
        progress_(std::move(progress)) {}

  // A completion's way back in: on options.resume_on (not the completing thread, which is the
  // writer's or a disk reader's), unless a pump is running and only has to go round again.
  void resume() {
    {
      std::lock_guard lock(mutex_);
      if (pumping_) {
        again_ = true;
        return;
      }
    }
    if (options_.resume_on) {
      options_.resume_on([self = shared_from_this()] { self->pump(); });
    } else {
      pump();
    }
  }

  // Runs steps until one has to wait. A pump started while another runs (a completion inline
  // or on another thread) only asks that one to go round again, so calls never nest.
  void pump() {
    {
      std::lock_guard lock(mutex_);
      if (pumping_) {
        again_ = true;
        return;
      }
      pumping_ = true;
    }
    while (true) {
      if (step()) continue;
      std::lock_guard lock(mutex_);
      if (again_) {
        again_ = false;
        continue;
      }
      pumping_ = false;
      return;
    }
  }

 private:
  enum class phase { next_line, drain, find, awaiting_find, finish, finished };

  // One step of the current line; false when it must wait for a completion.
  bool step() {
    switch (phase_) {
      case phase::next_line:
        return read_line();
      case phase::drain: {
        std::lock_guard lock(mutex_);
        if (in_flight_ > 0) return false;
        phase_ = phase::find;
        return true;
      }
      case phase::find: {
        {
          std::lock_guard lock(mutex_);
          if (in_flight_ >= options_.window) return false;
          found_.reset();
        }
        phase_ = phase::awaiting_find;
        users_.find(line_.id, [self = shared_from_this()](result<std::optional<storage::stored_user>> found) {
          {
            std::lock_guard lock(self->mutex_);
            self->found_.emplace(std::move(found));
          }
          self->resume();
        });
        return true;
      }
      case phase::awaiting_find: {
        std::optional<result<std::optional<storage::stored_user>>> found;
        {
          std::lock_guard lock(mutex_);
          if (!found_) return false;
          found.swap(found_);
        }
        return write_line(std::move(*found));
      }
      case phase::finish:
        return finish();
      case phase::finished:
        return false;
    }
    return false;
  }

  bool read_line() {
    std::string_view text;
    if (!source_(text)) {
      phase_ = phase::finish;
      return true;
    }
    // Read once a line is in hand: an import whose last line was read finishes as a whole.
    if (options_.stop != nullptr && options_.stop->load()) {
      std::lock_guard lock(mutex_);
      report_.interrupted = true;
      phase_ = phase::finish;
      return true;
    }
    ++line_number_;
    if (progress_ && line_number_ % 65536 == 0) progress_(line_number_);
    if (text.find_first_not_of(" \t\r") == std::string_view::npos) return true;  // a blank line
    std::lock_guard lock(mutex_);
    ++report_.lines;
    auto parsed = parse_user_import_line(text);
    if (!parsed) {
      fail_locked(line_number_, parsed.error());
      return true;
    }
    auto [seen, first] = first_line_of_id_.try_emplace(parsed->id, line_number_);
    if (!first) {
      fail_locked(line_number_, make_error(error_kind::conflict, "the id is on line " + std::to_string(seen->second) +
                                                                      " already"));
      return true;
    }
    line_ = std::move(*parsed);
    line_at_ = line_number_;
    // A write in flight for this id or email first becomes durable, so the file's order holds.
    phase_ = busy_locked(id_key(line_.id)) || busy_locked(email_key(line_.fields.email)) ? phase::drain : phase::find;
    return true;
  }

  bool write_line(result<std::optional<storage::stored_user>> found) {
    phase_ = phase::next_line;
    std::vector<std::string> keys;
    storage::user_record user;
    bool existed = false;
    std::uint64_t expected = 0;
    {
      std::lock_guard lock(mutex_);
      if (!found) {
        fail_locked(line_at_, found.error());
        return true;
      }
      const auto& current = *found;
      if (current && current->record.email == line_.fields.email &&
          current->record.phone_support == line_.fields.phone_support) {
        ++report_.unchanged;
        return true;
      }
      keys = {id_key(line_.id), email_key(line_.fields.email)};
      if (current && current->record.email != line_.fields.email) {
        keys.push_back(email_key(current->record.email));
        if (busy_locked(keys.back())) {
          phase_ = phase::drain;  // the old email is being written: read the user again after
          return true;
        }
      }
      user = {line_.id, line_.fields.email, line_.fields.phone_support,
              current ? current->record.created_at : options_.now, options_.now};
      existed = current.has_value();
      expected = existed ? current->version : 0;
      for (const auto& key : keys) in_flight_keys_.insert(key);
      ++in_flight_;
    }
    // Outside the lock: the answer may come inline.
    users_.put(std::move(user), expected, {},
               [self = shared_from_this(), keys, existed, at = line_at_](result<std::uint64_t> written) {
                 {
                   std::lock_guard lock(self->mutex_);
                   --self->in_flight_;
                   for (const auto& key : keys) self->in_flight_keys_.erase(key);
                   if (!written) {
                     self->fail_locked(at, written.error());
                   } else {
                     ++(existed ? self->report_.updated : self->report_.created);
                   }
                 }
                 self->resume();
               });
    return true;
  }

  bool finish() {
    {
      std::lock_guard lock(mutex_);
      if (in_flight_ > 0) return false;
    }
    phase_ = phase::finished;
    if (progress_) progress_(line_number_);
    if (options_.sink == nullptr) {
      done_(std::move(report_));
      return false;
    }
    auto summary = options_.summary;
    summary.action = "user.import";
    summary.outcome = report_.interrupted ? "interrupted" : report_.failed == 0 ? "ok" : "partial";
    for (auto [name, count] : {std::pair<const char*, std::uint64_t>{"lines", report_.lines},
                               {"created", report_.created},
                               {"updated", report_.updated},
                               {"unchanged", report_.unchanged},
                               {"failed", report_.failed}}) {
      summary.details.emplace_back(name, std::to_string(count));
    }
    storage::change_set change;
    change.add_audit(std::move(summary));
    options_.sink->submit(std::move(change), [self = shared_from_this()](result<storage::commit_receipt> written) {
      if (!written) {
        self->done_(written.error());
        return;
      }
      self->done_(std::move(self->report_));
    });
    return false;
  }

  static std::string id_key(std::string_view id) { return "u:" + std::string(id); }
  static std::string email_key(std::string_view email) { return "e:" + std::string(email); }
  bool busy_locked(const std::string& key) const { return in_flight_keys_.count(key) != 0; }

  void fail_locked(std::uint64_t line, error reason) {
    ++report_.failed;
    if (report_.errors.size() < options_.max_reported_errors) {
      report_.errors.push_back({line, std::move(reason)});
    } else {
      report_.errors_truncated = true;
    }
  }

  storage::user_directory& users_;
  import_source source_;
  const import_options options_;
  std::function<void(result<import_report>)> done_;
  std::function<void(std::uint64_t)> progress_;

  // The pump's own (one pump at a time).
  phase phase_ = phase::next_line;
  std::uint64_t line_number_ = 0;
  user_import_line line_;
  std::uint64_t line_at_ = 0;

  std::mutex mutex_;  // guards everything below
  bool pumping_ = false;
  bool again_ = false;
  std::optional<result<std::optional<storage::stored_user>>> found_;
  std::size_t in_flight_ = 0;
  std::unordered_set<std::string> in_flight_keys_;
  std::unordered_map<std::string, std::uint64_t> first_line_of_id_;
  import_report report_;
};

}  // namespace

void run_user_import(storage::user_directory& users, import_source source, import_options options,
                     std::function<void(result<import_report>)> done, std::function<void(std::uint64_t)> progress) {
  auto resume_on = options.resume_on;
  auto run = std::make_shared<import_run>(users, std::move(source), std::move(options), std::move(done),
                                          std::move(progress));
  if (resume_on) {
    resume_on([run] { run->pump(); });  // the whole import on its own thread, not the caller's
  } else {
    run->pump();
  }
}

std::string import_report_json(const import_report& report) {
  json_writer json;
  json.begin_object()
      .field("lines", report.lines)
      .field("created", report.created)
      .field("updated", report.updated)
      .field("unchanged", report.unchanged)
      .field("failed", report.failed)
      .key("errors")
      .begin_array();
  for (const auto& e : report.errors) {
    json.begin_object().field("line", e.line).field("reason", client_detail(e.reason)).end_object();
  }
  json.end_array().field("errors_truncated", report.errors_truncated).end_object();
  return std::move(json).str();
}

}  // namespace callsign::server
