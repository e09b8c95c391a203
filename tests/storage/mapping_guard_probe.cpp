// A process for mapping_guard's signal behaviour, run by lists_hash_set_test.cpp through
// posix_spawn: a forked copy of the Boost.Test process would inherit Boost's own signal handling
// and run the rest of the suite. Usage: mapping_guard_probe MODE DIR
//   guarded    a guarded mapping of a file truncated under it reads zeros and is damaged; exit 0
//   unguarded  a fault in another mapping while a guard is installed; must end the process
//   sent       SIGBUS sent with kill while a guard is installed; must end the process
// Exit 0 means "survived"; 3 a setup failure; 4 a guarded read that was not zeros or not damaged.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <string>

#include "storage/lists/mapping_guard.hpp"

namespace {

const char* make_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return nullptr;
  const std::string page(16384, 'x');
  const bool ok = ::write(fd, page.data(), page.size()) == static_cast<ssize_t>(page.size());
  void* map = ok ? ::mmap(nullptr, page.size(), PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
  ::close(fd);
  return map == MAP_FAILED ? nullptr : static_cast<const char*>(map);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return 3;
  const std::string mode = argv[1];
  const std::string dir = argv[2];
  const char* guarded_map = make_file(dir + "/guarded");
  if (guarded_map == nullptr) return 3;
  callsign::storage::mapping_guard guard(guarded_map, 16384);
  if (!guard.guarded()) return 3;
  if (mode == "guarded") {
    if (::truncate((dir + "/guarded").c_str(), 0) != 0) return 3;
    const volatile char c = guarded_map[8192];  // past the end of the file: SIGBUS, caught
    return c == 0 && guard.damaged() ? 0 : 4;
  }
  if (mode == "unguarded") {
    const char* other = make_file(dir + "/other");
    if (other == nullptr || ::truncate((dir + "/other").c_str(), 0) != 0) return 3;
    const volatile char c = other[8192];
    (void)c;
    return 0;  // reached only if the fault was swallowed
  }
  if (mode == "sent") {
    ::kill(::getpid(), SIGBUS);
    return 0;  // reached only if the signal was swallowed
  }
  return 3;
}
