# CALLSIGN_FUZZ: a separate clang tree holding only the Asio-free libraries (crypto, storage,
# server) and the libFuzzer targets in tests/fuzz/. Libraries get fuzzer-no-link coverage
# instrumentation; each target links the libFuzzer driver. See docs/fuzzing.md and tools/fuzz.
if(NOT CALLSIGN_FUZZ)
  return()
endif()
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "CALLSIGN_FUZZ needs clang (-DCMAKE_CXX_COMPILER=clang++); got ${CMAKE_CXX_COMPILER_ID}")
endif()
if(CALLSIGN_ASAN OR CALLSIGN_UBSAN OR CALLSIGN_TSAN)
  message(FATAL_ERROR "CALLSIGN_FUZZ already builds with ASan and UBSan; leave CALLSIGN_ASAN/UBSAN/TSAN off")
endif()
# Every undefined-behaviour report stops the run, so libFuzzer saves the input as a crash.
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                    -fno-omit-frame-pointer)
add_link_options(-fsanitize=address,undefined)
