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
  std::string function;  // demangled, with its parameter list; "" when no symbol covers pc
  std::string file;      // source file; "" without debug information
  int line = 0;          // 0 without debug information
  uintptr_t offset = 0;  // pc minus the start of the symbol that contains it (0 if none)
};

// One Frame per pc, in order. A pc is looked up as given: for a return address (what a stack
// walk yields for every frame but a signal's interrupted one) pass `return_address - 1`, so
// the call instruction is found, not the line after it (Go's runtime.CallersFrames does the
// same).
//
// Where a call was inlined, the function and file:line are those of the innermost inlined
// function (what `addr2line -f` prints); `offset` is still from the start of the symbol.
//
// Thread-safe; results are cached per pc for the life of the process. The first call reads
// the binary's symbol table and debug information (tens to hundreds of milliseconds for a
// large binary) and blocks its thread meanwhile: from a goroutine, call it inside blocking().
// Not async-signal-safe.
std::vector<Frame> symbolize(std::span<const uintptr_t> pcs);

// The function name without its parameter list and qualifiers:
// "ns::Cls<int>::run(int) const" -> "ns::Cls<int>::run". Goroutine dumps print it as Go
// prints a function name.
std::string function_without_parameters(const std::string& demangled);

}  // namespace spindle::debug
