# Warnings are errors for every callsign target; third-party headers are SYSTEM includes.
add_library(callsign_warnings INTERFACE)
target_compile_options(callsign_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Werror -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Woverloaded-virtual -Wconversion -Wsign-conversion
  -Wimplicit-fallthrough)
