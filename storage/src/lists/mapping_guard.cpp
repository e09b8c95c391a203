#include "storage/lists/mapping_guard.hpp"

#include <signal.h>
#include <sys/mman.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <utility>

namespace callsign::storage {
namespace {

struct guarded_range {
  std::atomic<bool> claimed{false};
  std::atomic<std::uintptr_t> start{0};  // 0: not serving as a guard
  std::atomic<std::size_t> size{0};
  std::atomic<bool> damaged{false};
};

std::array<guarded_range, max_guarded_mappings> ranges;
struct sigaction previous_action {};
std::once_flag installed;

void on_sigbus(int signal_number, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  const auto address = reinterpret_cast<std::uintptr_t>(info->si_addr);
  for (auto& range : ranges) {
    const auto start = range.start.load(std::memory_order_acquire);
    const auto size = range.size.load(std::memory_order_relaxed);
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
  ::signal(SIGBUS, SIG_DFL);
}

void install_handler() {
  struct sigaction action {};
  action.sa_sigaction = on_sigbus;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGBUS, &action, &previous_action);
}

}  // namespace

mapping_guard::mapping_guard(const void* start, std::size_t size) noexcept {
  if (start == nullptr || size == 0) return;
  std::call_once(installed, install_handler);
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    bool expected = false;
    if (!ranges[i].claimed.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) continue;
    ranges[i].damaged.store(false, std::memory_order_relaxed);
    ranges[i].size.store(size, std::memory_order_relaxed);
    ranges[i].start.store(reinterpret_cast<std::uintptr_t>(start), std::memory_order_release);
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
  range.start.store(0, std::memory_order_release);
  range.size.store(0, std::memory_order_relaxed);
  range.claimed.store(false, std::memory_order_release);
  slot_ = -1;
}

}  // namespace callsign::storage
