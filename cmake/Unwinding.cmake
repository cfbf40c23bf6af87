# What walking and symbolising stacks need from every C++ file of every build.
# clang writes no .debug_aranges by default, and libdw (0.188, Debian 12) finds the compilation
# unit of an address, hence its file and line, only through them (src/debug/symbolize.cc).
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-gdwarf-aranges>)
endif()
# Frame pointers everywhere, leaf functions included: the CPU, block and mutex profiles walk
# stacks by them (src/runtime/profile/frames.h).
add_compile_options(-fno-omit-frame-pointer -mno-omit-leaf-frame-pointer)
