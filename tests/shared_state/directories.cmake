# The Redis user and authenticator directories against real redis-server processes (included by
# tests/shared_state/CMakeLists.txt): the shared contract cases plus what Redis adds.
callsign_test_suite(shared_state_directory_tests
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/directory_main_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/redis_user_directory_contract_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/redis_directory_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/redis_user_directory_cache_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/redis_authenticator_cache_test.cpp
  LIBS callsign_shared_state callsign_redis callsign_storage RocksDB::rocksdb-shared PkgConfig::HIREDIS)
