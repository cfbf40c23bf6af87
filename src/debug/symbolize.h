// Symbolisation of code addresses in this process: function name (demangled), and source file
// and line where the binary carries debug information. Goroutine dumps and the profiles use it.
// A leaf library (elfutils' libdw, no spindle code), so the runtime can use it too.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace spindle::debug {

struct Frame {
  uintptr_t pc = 0;      // the address looked up, as passed to symbolize()
  std::string function;  // demangled (with its parameter list when the symbol has one); ""
                         // when no symbol covers pc
  std::string file;      // source file; "" without debug information
  int line = 0;          // 0 without debug information
  uintptr_t offset = 0;  // pc minus the start of the symbol that contains it (0 if none)
  bool inlined = false;  // symbolize_inlined: this function was inlined into the next Frame's
};

// One Frame per pc, in order: the real (not inlined) function containing pc, and the line in
// that function (when pc lies in code inlined into it, the line of the outermost inlined call). A
// pc is looked up as given: for a return address (what a stack walk yields for every frame but a
// signal's interrupted one) pass `return_address - 1`, so the call instruction is found, not the
// line after it (Go's runtime.CallersFrames does the same).
//
// Thread-safe; results are cached per pc for the life of the process. The first call reads
// the binary's symbol table and debug information (tens to hundreds of milliseconds for a
// large binary) and blocks its thread meanwhile: from a goroutine, call it inside blocking().
// Not async-signal-safe.
std::vector<Frame> symbolize(std::span<const uintptr_t> pcs);

// For each pc, every function it is in, innermost first, as Go's tracebacks and pprof show
// inlined calls (`addr2line -i`): the functions inlined at pc (inlined = true, each at the line
// it is at), then the real function, which is symbolize()'s Frame. Thread-safe, cached, and
// blocking like symbolize().
std::vector<std::vector<Frame>> symbolize_inlined(std::span<const uintptr_t> pcs);

// The function name without its parameter list and qualifiers:
// "ns::Cls<int>::run(int) const" -> "ns::Cls<int>::run". Goroutine dumps print it as Go
// prints a function name.
std::string function_without_parameters(const std::string& demangled);

}  // namespace spindle::debug
