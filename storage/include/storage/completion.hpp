// How the asynchronous state interfaces answer: a completion is called exactly once with the
// call's result, either inline (the embedded backend answers from memory) or later on a thread of
// the backend's choosing (a networked backend answers from its connection's I/O thread). The
// caller keeps every reference it passed alive until then. Asio-free: callsign_net adapts a
// completion to a coroutine (docs/architecture.md, "State interfaces").
#pragma once

#include <functional>

#include "crypto/result.hpp"

namespace callsign::storage {

template <class T>
using completion = std::function<void(result<T>)>;

}  // namespace callsign::storage
