# `heapscope top` against a heap profile written by Go's runtime/pprof and
# against `go tool pprof -top` itself. Needs Debian's golang-go; builds
# tests/go/heapgen offline.
add_test(NAME e2e.top_go_profile
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/top_go_profile_test.sh
                 $<TARGET_FILE:heapscope>
                 ${CMAKE_SOURCE_DIR}/tests/go/heapgen
                 ${CMAKE_BINARY_DIR}/tests/top_go_profile)
set_tests_properties(e2e.top_go_profile PROPERTIES TIMEOUT 300)
