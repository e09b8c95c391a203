# The Redis user and authenticator directories (docs/shared-state-redis.md, "Users and
# authenticators"), included by shared_state/CMakeLists.txt. The Lua library is compiled in:
# lua/directory.lua becomes a C string in a generated source, regenerated (by a re-configure)
# whenever the .lua file changes.
set(callsign_directory_lua ${CMAKE_CURRENT_LIST_DIR}/lua/directory.lua)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${callsign_directory_lua})
file(READ ${callsign_directory_lua} callsign_directory_lua_text)
if(callsign_directory_lua_text MATCHES "\\)callsign_lua\"")
  message(FATAL_ERROR "lua/directory.lua must not contain the raw string's end, )callsign_lua\"")
endif()
file(CONFIGURE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/generated/directory_library.cpp
  CONTENT "// Generated from shared_state/lua/directory.lua by shared_state/directories.cmake.
namespace callsign::shared_state {
extern const char directory_library_source[];
const char directory_library_source[] = R\"callsign_lua(@callsign_directory_lua_text@)callsign_lua\";
}  // namespace callsign::shared_state
" @ONLY)
target_sources(callsign_shared_state PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/src/directory_functions.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/redis_user_directory.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/redis_authenticator_directory.cpp
  ${CMAKE_CURRENT_BINARY_DIR}/generated/directory_library.cpp)
