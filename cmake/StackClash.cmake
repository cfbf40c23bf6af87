# Stack probing for every C++ file of every build (docs/runtime.md, "Stacks"). Goroutine stacks
# lie back to back with a guard below each; a frame larger than the guard would skip it and
# write into the neighbouring stack. With -fstack-clash-protection a frame (or alloca) larger
# than a page touches its pages top down, so an overflow always faults in the guard first.
# g++ 12 and clang 14 both honour it, also with ASan and TSan; stack_test.cc checks it.
include(CheckCXXCompilerFlag)
check_cxx_compiler_flag(-fstack-clash-protection SPINDLE_HAS_STACK_CLASH_PROTECTION)
if(NOT SPINDLE_HAS_STACK_CLASH_PROTECTION)
  message(FATAL_ERROR "${CMAKE_CXX_COMPILER} lacks -fstack-clash-protection, which goroutine "
                      "stacks need (docs/runtime.md, \"Stacks\")")
endif()
add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fstack-clash-protection>)
