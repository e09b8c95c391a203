// The subscriber connection (pub/sub), following the primary like the data connection.
#include "client_core.hpp"

namespace callsign::redis {

asio::awaitable<void> run_subscriber(client_core&) { co_return; }

}  // namespace callsign::redis
