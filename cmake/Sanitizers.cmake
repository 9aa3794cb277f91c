# Sanitizer builds of the unit tests.
#
#   cmake -S . -B build-asan -G Ninja -DHEAPSCOPE_SANITIZE=address -DHEAPSCOPE_BUILD_BENCH=OFF
#   cmake --build build-asan --target hs_unit_tests && ctest --test-dir build-asan
#
# HEAPSCOPE_SANITIZE is a comma-separated list of address, undefined, thread
# ("address,undefined" is allowed; thread goes alone). The flags go to every
# target except:
#   - heapscope_runtime (libheapscope.so): a preloaded malloc replacement
#     cannot run under a sanitizer that replaces malloc itself. The project's
#     static libraries it links (hs_base, hs_platform, hs_format_writer) are
#     built a second time without sanitizers for it (TARGET_nosan), so the
#     unit tests still exercise the instrumented copies;
#   - programs that run under the runtime (tests/e2e, bench, examples);
#   - targets that already choose their own -fsanitize= (libFuzzer targets).
# With a sanitizer on, HEAPSCOPE_BUILD_E2E defaults to OFF. The target
# hs_unit_tests builds every *_test executable, which is all `ctest` needs
# then (tests/sanitizers/run.sh does the lot).

set(HEAPSCOPE_SANITIZE "" CACHE STRING
    "Sanitizers for everything but the runtime: address, undefined, thread, or a comma list")

if(HEAPSCOPE_SANITIZE)
  set(_hs_e2e_default OFF)
else()
  set(_hs_e2e_default ON)
endif()
option(HEAPSCOPE_BUILD_E2E "Build the end-to-end tests (tests/e2e)" ${_hs_e2e_default})

if(NOT HEAPSCOPE_SANITIZE)
  return()
endif()

string(REPLACE "," ";" _hs_san_list "${HEAPSCOPE_SANITIZE}")
set(HS_SANITIZE_FLAGS "")
foreach(s IN LISTS _hs_san_list)
  if(s STREQUAL "address")
    list(APPEND HS_SANITIZE_FLAGS -fsanitize=address -fno-omit-frame-pointer)
  elseif(s STREQUAL "undefined")
    # Abort on the first report so that a test fails instead of printing.
    list(APPEND HS_SANITIZE_FLAGS -fsanitize=undefined -fno-sanitize-recover=all)
  elseif(s STREQUAL "thread")
    list(APPEND HS_SANITIZE_FLAGS -fsanitize=thread)
  else()
    message(FATAL_ERROR "HEAPSCOPE_SANITIZE: unknown sanitizer '${s}' (address, undefined, thread)")
  endif()
endforeach()
if("thread" IN_LIST _hs_san_list AND "address" IN_LIST _hs_san_list)
  message(FATAL_ERROR "HEAPSCOPE_SANITIZE: address and thread cannot be combined")
endif()
list(REMOVE_DUPLICATES HS_SANITIZE_FLAGS)
message(STATUS "heapscope: sanitizers ${HEAPSCOPE_SANITIZE} (all targets but heapscope_runtime)")

# Programs built to run under the runtime keep their plain flags.
set(_hs_san_plain_dirs ${CMAKE_SOURCE_DIR}/tests/e2e ${CMAKE_SOURCE_DIR}/bench
    ${CMAKE_SOURCE_DIR}/examples)

function(_hs_san_collect dir out)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(d IN LISTS subdirs)
    _hs_san_collect(${d} sub)
    list(APPEND targets ${sub})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

# Maps one link item of the runtime to its unsanitized twin, creating the
# twin (a static library with the same sources and settings) on first use.
function(_hs_san_twin item out)
  set(${out} ${item} PARENT_SCOPE)
  if(NOT TARGET ${item})
    return()
  endif()
  get_target_property(imported ${item} IMPORTED)
  get_target_property(type ${item} TYPE)
  if(imported OR NOT type STREQUAL "STATIC_LIBRARY")
    return()
  endif()
  set(twin ${item}_nosan)
  set(${out} ${twin} PARENT_SCOPE)
  if(TARGET ${twin})
    return()
  endif()
  get_target_property(srcdir ${item} SOURCE_DIR)
  get_target_property(srcs ${item} SOURCES)
  set(abs "")
  foreach(s IN LISTS srcs)
    if(IS_ABSOLUTE "${s}" OR s MATCHES "^\\$<")
      list(APPEND abs "${s}")
    else()
      list(APPEND abs "${srcdir}/${s}")
    endif()
  endforeach()
  add_library(${twin} STATIC EXCLUDE_FROM_ALL ${abs})
  foreach(p INCLUDE_DIRECTORIES COMPILE_OPTIONS COMPILE_DEFINITIONS
            INTERFACE_INCLUDE_DIRECTORIES INTERFACE_COMPILE_OPTIONS INTERFACE_COMPILE_DEFINITIONS
            POSITION_INDEPENDENT_CODE CXX_VISIBILITY_PRESET VISIBILITY_INLINES_HIDDEN)
    get_target_property(v ${item} ${p})
    if(NOT v STREQUAL "v-NOTFOUND")
      set_property(TARGET ${twin} PROPERTY ${p} "${v}")
    endif()
  endforeach()
  foreach(p LINK_LIBRARIES INTERFACE_LINK_LIBRARIES)
    get_target_property(libs ${item} ${p})
    if(libs STREQUAL "libs-NOTFOUND")
      continue()
    endif()
    set(mapped "")
    foreach(l IN LISTS libs)
      _hs_san_twin_item("${l}" m)
      list(APPEND mapped "${m}")
    endforeach()
    set_property(TARGET ${twin} PROPERTY ${p} "${mapped}")
  endforeach()
endfunction()

# A link item may be wrapped as $<LINK_ONLY:name>.
function(_hs_san_twin_item l out)
  if(l MATCHES "^\\$<LINK_ONLY:([^>]+)>$")
    _hs_san_twin(${CMAKE_MATCH_1} m)
    set(${out} "$<LINK_ONLY:${m}>" PARENT_SCOPE)
  else()
    _hs_san_twin("${l}" m)
    set(${out} "${m}" PARENT_SCOPE)
  endif()
endfunction()

function(_hs_apply_sanitizers)
  _hs_san_collect(${CMAKE_SOURCE_DIR} all_targets)
  if(TARGET heapscope_runtime)
    get_target_property(libs heapscope_runtime LINK_LIBRARIES)
    set(mapped "")
    foreach(l IN LISTS libs)
      _hs_san_twin_item("${l}" m)
      list(APPEND mapped "${m}")
    endforeach()
    set_property(TARGET heapscope_runtime PROPERTY LINK_LIBRARIES "${mapped}")
  endif()
  set(unit_tests "")
  foreach(t IN LISTS all_targets)
    get_target_property(type ${t} TYPE)
    if(NOT type MATCHES "^(EXECUTABLE|STATIC_LIBRARY|SHARED_LIBRARY|MODULE_LIBRARY|OBJECT_LIBRARY)$"
       OR t STREQUAL "heapscope_runtime")
      continue()
    endif()
    get_target_property(dir ${t} SOURCE_DIR)
    set(plain OFF)
    foreach(p IN LISTS _hs_san_plain_dirs)
      string(FIND "${dir}/" "${p}/" at)
      if(at EQUAL 0)
        set(plain ON)
      endif()
    endforeach()
    get_target_property(opts ${t} COMPILE_OPTIONS)
    if(plain OR "${opts}" MATCHES "-fsanitize=")
      continue()
    endif()
    target_compile_options(${t} PRIVATE ${HS_SANITIZE_FLAGS})
    if(NOT type STREQUAL "STATIC_LIBRARY" AND NOT type STREQUAL "OBJECT_LIBRARY")
      target_link_options(${t} PRIVATE ${HS_SANITIZE_FLAGS})
    endif()
    if(type STREQUAL "EXECUTABLE" AND t MATCHES "_test$")
      list(APPEND unit_tests ${t})
    endif()
  endforeach()
  add_custom_target(hs_unit_tests DEPENDS ${unit_tests})
  message(STATUS "heapscope: hs_unit_tests builds ${unit_tests}")
endfunction()

# After every directory has added its targets.
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL _hs_apply_sanitizers)
