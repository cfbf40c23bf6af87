# What walking and symbolising stacks need from every C++ file of every build.
# Frame pointers, leaf functions included: goroutine dumps walk a parked goroutine's stack along
# its saved frame-pointer chain (src/runtime/traceback.cc), and the CPU, block and mutex
# profiles walk a running one's (src/runtime/profile/frames.h). Measured cost: docs/runtime.md,
# "Goroutine dumps". (The sanitizer presets had them already.)
add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fno-omit-frame-pointer>)
add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-mno-omit-leaf-frame-pointer>)
# clang writes no .debug_aranges by default, and libdw (0.188, Debian 12) finds the compilation
# unit of an address, hence its file and line, only through them (src/debug/symbolize.cc).
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-gdwarf-aranges>)
endif()
