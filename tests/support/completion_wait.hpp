// Waits in a test for a storage completion (storage/completion.hpp), which may be called inline
// or from any thread.
#pragma once

#include <future>
#include <memory>
#include <utility>

#include "crypto/result.hpp"

namespace callsign::test {

// Calls call(done) and waits for done's result.
template <class T, class Call>
result<T> wait_for(Call call) {
  auto promise = std::make_shared<std::promise<result<T>>>();
  auto future = promise->get_future();
  call([promise](result<T> outcome) { promise->set_value(std::move(outcome)); });
  return future.get();
}

}  // namespace callsign::test
