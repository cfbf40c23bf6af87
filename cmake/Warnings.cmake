# Warnings as errors everywhere: CI builds with -Werror (STYLE.md, "Build").
add_library(spindle_warnings INTERFACE)
target_compile_options(spindle_warnings INTERFACE -Wall -Wextra -Werror -Wno-unused-parameter)
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  # Checks the GUARDED_BY / REQUIRES annotations of src/base/thread_annotations.h.
  target_compile_options(spindle_warnings INTERFACE -Wthread-safety)
endif()
