# Every build links with LLVM's lld when the compiler can use it (scripts/build-deps installs
# it), otherwise with the default linker. Relinking the ~70 executables of the release build
# (tests, benchmarks, programs; static libraries with full debug information) took 41 s of wall
# time (78 s of CPU) with GNU ld and 9 s (16 s of CPU) with lld on the 2-core machine; the
# three presets of scripts/test link about as much each. lld's default build id is 8 bytes:
# asking for SHA-1 keeps GNU ld's 20, which pprof profiles carry (pprof_profile_test.cc) and
# Debian's debug-symbol paths are named after.
include(CheckLinkerFlag)
check_linker_flag(CXX "-fuse-ld=lld;-Wl,--build-id=sha1" SPINDLE_HAS_LLD)
if(SPINDLE_HAS_LLD)
  add_link_options(-fuse-ld=lld -Wl,--build-id=sha1)
else()
  message(STATUS "lld is not installed: linking with the default linker, several times slower "
                 "(scripts/build-deps installs lld)")
endif()
