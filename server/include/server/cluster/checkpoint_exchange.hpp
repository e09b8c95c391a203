// Shared mode (issue 18; docs/audit.md, "Several nodes"): every second a node signs its
// journal's head as a checkpoint, publishes it to Redis (stream cs:audit:checkpoints, hash
// cs:audit:latest) and reads every node's latest one; when another node's signed checkpoint is
// new, it writes an audit.link entry holding the other nodes' (node, seq, head), so rewriting
// one node's journal breaks links the others hold. Asio-free: Redis only through redis::client.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "crypto/key_ring.hpp"
#include "crypto/result.hpp"
#include "redis/client.hpp"
#include "server/observability/json_log.hpp"
#include "storage/audit_journal.hpp"
#include "storage/change_set.hpp"
#include "storage/clock.hpp"

namespace callsign::server {

inline constexpr std::string_view audit_checkpoint_stream_key = "cs:audit:checkpoints";
inline constexpr std::string_view audit_latest_checkpoints_key = "cs:audit:latest";

struct checkpoint_exchange_options {
  std::string node_id;                       // this node ([shared_state] node_id)
  std::chrono::milliseconds interval{1000};  // one round (one exec) per interval
  std::uint64_t stream_max_length = 10000;   // XADD MAXLEN ~ this
};

// Counters for tests and /metrics. Plain value.
struct checkpoint_exchange_stats {
  std::uint64_t rounds = 0;               // execs answered (either way)
  std::uint64_t rounds_failed = 0;        // execs that failed (Redis unavailable)
  std::uint64_t published = 0;            // new checkpoints added to the stream
  std::uint64_t links_written = 0;        // audit.link entries committed
  std::uint64_t links_failed = 0;         // audit.link commits that failed (retried next round)
  std::uint64_t checkpoints_refused = 0;  // other nodes' checkpoints not linked (signature, format)
};

// Thread-safety: start() and stop() from the owner's thread; stats() from any thread. The work
// runs on the exchange's own thread (reads of the journal, signing, verification); the Redis
// and writer completions only hand their result over, so they never block those threads and
// may safely run after stop() (they then touch a state the exchange no longer reads).
class checkpoint_exchange {
 public:
  // Derives the signing key of ring.current() and the public keys on demand (every node holds
  // the same ring). invalid_input for an invalid node id. `client`, `sink`, `journal`, `ring`,
  // `clk` and `log` must outlive the exchange (stop() ends every use of them).
  static result<std::unique_ptr<checkpoint_exchange>> start(checkpoint_exchange_options options, redis::client& client,
                                                            storage::commit_sink& sink,
                                                            const storage::audit_journal& journal,
                                                            const crypto::key_ring& ring, const storage::clock& clk,
                                                            json_log& log);

  checkpoint_exchange(const checkpoint_exchange&) = delete;
  checkpoint_exchange& operator=(const checkpoint_exchange&) = delete;
  ~checkpoint_exchange();  // stop()

  // Joins the exchange's thread. An exec or a link commit still in flight completes into the
  // shared state later, harmlessly. Idempotent.
  void stop();

  checkpoint_exchange_stats stats() const;

  struct state;  // shared with completions

 private:
  struct worker;
  explicit checkpoint_exchange(std::unique_ptr<worker> w);
  std::unique_ptr<worker> worker_;
};

}  // namespace callsign::server
