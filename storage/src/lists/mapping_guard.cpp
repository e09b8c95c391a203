#include "storage/lists/mapping_guard.hpp"

#include <signal.h>
#include <sys/mman.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <utility>
#include <csignal>

namespace callsign::storage {
namespace {

// A slot's start and size change under a sequence count (odd while they change), so the handler
// never pairs one mapping's start with another's size.
struct guarded_range {
  std::atomic<bool> claimed{false};
  std::atomic<std::uint64_t> sequence{0};
  std::atomic<std::uintptr_t> start{0};  // 0: not serving as a guard
  std::atomic<std::size_t> size{0};
  std::atomic<bool> damaged{false};

  void set(std::uintptr_t new_start, std::size_t new_size) noexcept {
    sequence.fetch_add(1, std::memory_order_acq_rel);  // odd: changing; the stores stay after it
    start.store(new_start, std::memory_order_release);
    size.store(new_size, std::memory_order_release);
    sequence.fetch_add(1, std::memory_order_release);  // even: consistent; the stores stay before it
  }
  // The range, or {0, 0} while it changes. The data loads are acquires, so the second read of
  // the sequence cannot move before them (no fence: ThreadSanitizer does not model fences).
  std::pair<std::uintptr_t, std::size_t> read() const noexcept {
    const auto before = sequence.load(std::memory_order_acquire);
    if ((before & 1U) != 0) return {0, 0};
    const auto at = start.load(std::memory_order_acquire);
    const auto length = size.load(std::memory_order_acquire);
    if (sequence.load(std::memory_order_acquire) != before) return {0, 0};
    return {at, length};
  }
};

std::array<guarded_range, max_guarded_mappings> ranges;
struct sigaction previous_action {};
std::mutex install_mutex;

void on_sigbus(int signal_number, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  const auto address = reinterpret_cast<std::uintptr_t>(info->si_addr);
  // A fault (si_code > 0) in a guarded range; a SIGBUS sent by kill (si_code <= 0) is not one.
  for (auto& range : ranges) {
    if (info->si_code <= 0) break;
    const auto [start, size] = range.read();
    if (start == 0 || address < start || address - start >= size) continue;
    // The faulting thread is inside a lookup on this mapping, so it cannot be unmapped now.
    // Zero pages in place of the file's: this access and every later one read zeros.
    void* replaced = ::mmap(reinterpret_cast<void*>(start), size, PROT_READ, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS,
                            -1, 0);
    if (replaced == MAP_FAILED) break;
    range.damaged.store(true, std::memory_order_release);
    errno = saved_errno;
    return;
  }
  errno = saved_errno;
  // Not a guarded mapping: whoever handled SIGBUS before decides, or the default kills us when
  // the access runs again.
  if ((previous_action.sa_flags & SA_SIGINFO) != 0 && previous_action.sa_sigaction != nullptr) {
    previous_action.sa_sigaction(signal_number, info, context);
    return;
  }
  if (previous_action.sa_handler != SIG_DFL && previous_action.sa_handler != SIG_IGN &&
      previous_action.sa_handler != nullptr) {
    previous_action.sa_handler(signal_number);
    return;
  }
  // Restore the default for the rest of this signal's life only: a fault faults again when the
  // access runs again and ends the process; a sent signal is raised again now. Either way the
  // process ends as it would have without the guard, and no later cp finds the guard gone.
  ::signal(SIGBUS, SIG_DFL);
  if (info->si_code <= 0) ::raise(SIGBUS);
}

// Installs the handler unless it is the one in place: checked at every new guard, so a handler
// someone installed since (a test framework's, a library's) is chained to, not left in charge.
void ensure_handler() {
  const std::lock_guard lock(install_mutex);
  struct sigaction current {};
  if (::sigaction(SIGBUS, nullptr, &current) == 0 && (current.sa_flags & SA_SIGINFO) != 0 &&
      current.sa_sigaction == on_sigbus) {
    return;
  }
  struct sigaction action {};
  action.sa_sigaction = on_sigbus;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGBUS, &action, &previous_action);
}

}  // namespace

mapping_guard::mapping_guard(const void* start, std::size_t size) noexcept {
  if (start == nullptr || size == 0) return;
  ensure_handler();
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    bool expected = false;
    if (!ranges[i].claimed.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) continue;
    ranges[i].damaged.store(false, std::memory_order_relaxed);
    ranges[i].set(reinterpret_cast<std::uintptr_t>(start), size);
    slot_ = static_cast<int>(i);
    return;
  }
}

mapping_guard::mapping_guard(mapping_guard&& other) noexcept : slot_(std::exchange(other.slot_, -1)) {}

mapping_guard& mapping_guard::operator=(mapping_guard&& other) noexcept {
  if (this != &other) {
    release();
    slot_ = std::exchange(other.slot_, -1);
  }
  return *this;
}

mapping_guard::~mapping_guard() {
  release();
}

bool mapping_guard::damaged() const noexcept {
  return slot_ >= 0 && ranges[static_cast<std::size_t>(slot_)].damaged.load(std::memory_order_acquire);
}

void mapping_guard::release() noexcept {
  if (slot_ < 0) return;
  auto& range = ranges[static_cast<std::size_t>(slot_)];
  range.set(0, 0);
  range.claimed.store(false, std::memory_order_release);
  slot_ = -1;
}

}  // namespace callsign::storage
