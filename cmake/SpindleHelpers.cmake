# spindle_library / spindle_test / spindle_benchmark: one line per target in each folder's
# CMakeLists.txt. DEPS name other spindle libraries; layering is enforced by what each lists.

# Libraries build as unity batches (several .cc files per compiler run): each header is parsed
# once per batch instead of once per file, which halves a library's compile time. So names at
# namespace scope of a .cc file (anonymous namespaces included) must not clash across the files
# of one library.
function(spindle_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 10)
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE spindle_warnings)
endfunction()

# LABELS: unit, integration, stress, fuzz (ctest -L selects). TIMEOUT in seconds. SERIAL: the
# test checks timing tolerances (a deadline fires within a few ms), so it runs alone.
# SEQUENTIAL: the test runs its code on one thread only (parsers, pure functions), so the tsan
# preset, which finds nothing but data races, does not build it.
# Test sources compile at -O0 with line tables only (file:line in failures and sanitizer
# reports): the code under test comes optimised and with full debug information from its
# library, and the tests' own code (gtest's macros above all) builds in about half the time.
# The standard and gtest headers every test includes are precompiled once per build
# (spindle_test_pch) and reused by every test, which takes another third off. Both keep the
# three-preset run of scripts/test within its budget. FULL_DEBUG_INFO: the test symbolises its
# own frames (qualified names of inlined functions need full debug information), so it keeps the
# build's -g and compiles without the shared header.
function(spindle_test_compile_options name)
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    target_compile_options(${name} PRIVATE -O0 -gline-tables-only)
  else()
    target_compile_options(${name} PRIVATE -O0 -g1)
  endif()
endfunction()

function(spindle_test name)
  if(NOT SPINDLE_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "SERIAL;SEQUENTIAL;FULL_DEBUG_INFO" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  if(ARG_SEQUENTIAL AND SPINDLE_SANITIZE MATCHES "thread")
    return()
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main spindle_warnings)
  if(NOT TARGET spindle_test_pch)
    # Compiled once per build and reused by every test (same options, see above).
    add_library(spindle_test_pch OBJECT ${PROJECT_SOURCE_DIR}/cmake/test_pch.cc)
    spindle_test_compile_options(spindle_test_pch)
    target_link_libraries(spindle_test_pch PRIVATE GTest::gtest spindle_warnings)
    target_precompile_headers(spindle_test_pch PRIVATE
      <gtest/gtest.h> <algorithm> <atomic> <chrono> <functional> <map> <memory> <optional>
      <string> <thread> <vector>)
  endif()
  if(ARG_FULL_DEBUG_INFO)
    target_compile_options(${name} PRIVATE -O0)
  else()
    spindle_test_compile_options(${name})
    target_precompile_headers(${name} REUSE_FROM spindle_test_pch)
  endif()
  add_test(NAME ${name} COMMAND ${name})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
  if(ARG_SERIAL)
    set_tests_properties(${name} PROPERTIES RUN_SERIAL TRUE)
  endif()
endfunction()

# Benchmarks run under ctest only as a smoke run (one short repetition), label "bench".
function(spindle_benchmark name)
  if(NOT SPINDLE_BUILD_BENCHMARKS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} benchmark::benchmark spindle_warnings)
  if(SPINDLE_BUILD_TESTS)
    add_test(NAME ${name}_smoke COMMAND ${name} --benchmark_min_time=0.01)
    set_tests_properties(${name}_smoke PROPERTIES LABELS bench TIMEOUT 300)
  endif()
endfunction()

# libFuzzer targets exist only in a clang build with ASan (the asan-ubsan preset). Each runs under
# ctest (label "fuzz") for SPINDLE_FUZZ_SECONDS on a copy of CORPUS made in the build dir, so the
# repo's seed corpus is never written to. DICT is an optional libFuzzer dictionary.
set(SPINDLE_FUZZ_SECONDS 10 CACHE STRING "Seconds each libFuzzer target runs under ctest")
function(spindle_fuzzer name)
  if(NOT SPINDLE_BUILD_TESTS OR NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang"
     OR NOT SPINDLE_SANITIZE MATCHES "address")
    return()
  endif()
  cmake_parse_arguments(ARG "" "CORPUS;DICT" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} spindle_warnings)
  set(work ${CMAKE_CURRENT_BINARY_DIR}/${name}_corpus)
  set(flags -max_total_time=${SPINDLE_FUZZ_SECONDS} -max_len=4096 -timeout=10 -rss_limit_mb=2048
            -print_final_stats=1)
  if(ARG_DICT)
    list(APPEND flags -dict=${ARG_DICT})
  endif()
  list(JOIN flags " " flags)
  add_test(NAME ${name}
    COMMAND sh -c "rm -rf '${work}' && cp -r '${ARG_CORPUS}' '${work}' && exec '$<TARGET_FILE:${name}>' ${flags} '${work}'")
  math(EXPR timeout "${SPINDLE_FUZZ_SECONDS} + 120")
  set_tests_properties(${name} PROPERTIES LABELS fuzz TIMEOUT ${timeout})
endfunction()
