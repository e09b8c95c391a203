// A node's cache of enrollments for redis_authenticator_directory, by user id, absent ones
// included: most users never enroll, and a verify with a wrong code asks whether an app's code
// matches (docs/shared-state-redis.md, "The cache"). The rules are generation_cache's, the user
// cache's too. Records hold sealed secrets only, as Redis does.
#pragma once

#include "generation_cache.hpp"
#include "storage/authenticator_directory.hpp"

namespace callsign::shared_state {

// An enrollment (version 0 and an empty record: none) by user id. A class, not an alias, so the
// directory's header can declare it.
class authenticator_record_cache final : public generation_cache<storage::stored_authenticator> {
 public:
  using generation_cache::generation_cache;
};

}  // namespace callsign::shared_state
