#include "storage/read_policy.hpp"

namespace callsign::storage {
namespace {
thread_local bool must_not_block = false;
}  // namespace

bool reads_must_not_block() noexcept { return must_not_block; }

nonblocking_reads::nonblocking_reads() noexcept : previous_(must_not_block) { must_not_block = true; }
nonblocking_reads::~nonblocking_reads() { must_not_block = previous_; }

blocking_reads_allowed::blocking_reads_allowed() noexcept : previous_(must_not_block) { must_not_block = false; }
blocking_reads_allowed::~blocking_reads_allowed() { must_not_block = previous_; }

}  // namespace callsign::storage
