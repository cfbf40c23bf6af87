// Symbolisation (symbolize.h) with elfutils' libdwfl, the library behind eu-addr2line and
// eu-stack: it finds every module mapped into the process (/proc/self/maps), reads its symbol
// table and DWARF (4 and 5, as g++ 12 and clang 14 write it; also separate debug files under
// /usr/lib/debug), and answers address -> symbol and address -> line.
//
// Why libdw: Debian packages and maintains it (elfutils, libdw-dev), it reads the DWARF both
// our compilers emit, and it resolves every loaded module, not only the executable.
// Rejected: libbacktrace (no Debian development package: it ships only inside GCC's sources,
// so we would vendor a copy); libunwind's unw_get_proc_name (symbol names only, no file:line,
// so a second DWARF reader would be needed beside it); our own DWARF reader (the issue asks
// for a well-kept one); backtrace_symbols (dynamic symbols only: nothing for static or
// hidden functions, no lines).
//
// A frame's function is the symbol that contains the address (the real, not inlined,
// function), and its file:line is the line *in that function*: when the address lies in
// code inlined into it, the line of the outermost inlined call. Function and line then always
// belong together, and a function that was called but inlined does not hide its caller.
//
// One Dwfl session serves the whole process under one lock; libdwfl is not thread-safe.
#include "debug/symbolize.h"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace spindle::debug {
namespace {

std::string demangle(const char* name) {
  if (name == nullptr) return "";
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> out(
      abi::__cxa_demangle(name, nullptr, nullptr, &status), &std::free);
  return status == 0 && out != nullptr ? std::string(out.get()) : std::string(name);
}

// The file and line, within the function that contains address `rel` of the compilation unit
// `cu`, of the call that the address's inlined code came from. False when the address is not
// in inlined code (its own line then belongs to the function).
bool outermost_call_site(Dwarf_Die* cu, Dwarf_Addr rel, std::string* file, int* line) {
  Dwarf_Die* scopes = nullptr;
  const int n = dwarf_getscopes(cu, rel, &scopes);
  bool found = false;
  Dwarf_Die* outer = nullptr;
  for (int i = 0; i < n; ++i) {
    const int tag = dwarf_tag(&scopes[i]);
    if (tag == DW_TAG_subprogram) break;
    if (tag == DW_TAG_inlined_subroutine) outer = &scopes[i];
  }
  Dwarf_Attribute attr;
  Dwarf_Word file_index = 0, line_no = 0;
  Dwarf_Files* files = nullptr;
  size_t nfiles = 0;
  if (outer != nullptr &&
      dwarf_formudata(dwarf_attr(outer, DW_AT_call_file, &attr), &file_index) == 0 &&
      dwarf_formudata(dwarf_attr(outer, DW_AT_call_line, &attr), &line_no) == 0 &&
      dwarf_getsrcfiles(cu, &files, &nfiles) == 0 && file_index < nfiles) {
    const char* name = dwarf_filesrc(files, file_index, nullptr, nullptr);
    if (name != nullptr) {
      *file = name;
      *line = static_cast<int>(line_no);
      found = true;
    }
  }
  std::free(scopes);
  return found;
}

class Symbolizer {
 public:
  Symbolizer() {
    callbacks_.find_elf = dwfl_linux_proc_find_elf;
    callbacks_.find_debuginfo = dwfl_standard_find_debuginfo;
    callbacks_.debuginfo_path = &debuginfo_path_;
    dwfl_ = dwfl_begin(&callbacks_);
    report();
  }
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  std::vector<Frame> lookup(std::span<const uintptr_t> pcs) {
    std::lock_guard<std::mutex> l(mu_);
    std::vector<Frame> out;
    out.reserve(pcs.size());
    bool reported = false;
    for (uintptr_t pc : pcs) {
      auto it = cache_.find(pc);
      if (it == cache_.end()) {
        Frame f = resolve(pc);
        if (f.function.empty() && !reported) {  // a module loaded since the last report?
          reported = true;
          report();
          f = resolve(pc);
        }
        it = cache_.emplace(pc, std::move(f)).first;
      }
      out.push_back(it->second);
    }
    return out;
  }

 private:
  void report() {
    if (dwfl_ == nullptr) return;
    dwfl_report_begin(dwfl_);
    dwfl_linux_proc_report(dwfl_, getpid());
    dwfl_report_end(dwfl_, nullptr, nullptr);
  }

  Frame resolve(uintptr_t pc) {
    Frame f;
    f.pc = pc;
    if (dwfl_ == nullptr) return f;
    Dwfl_Module* mod = dwfl_addrmodule(dwfl_, pc);
    if (mod == nullptr) return f;
    GElf_Off offset = 0;
    GElf_Sym sym;
    const char* name = dwfl_module_addrinfo(mod, pc, &offset, &sym, nullptr, nullptr, nullptr);
    if (name != nullptr) {
      f.function = demangle(name);
      f.offset = offset;
    }
    Dwarf_Addr bias = 0;
    Dwarf_Die* cu = dwfl_module_addrdie(mod, pc, &bias);
    if (cu != nullptr && outermost_call_site(cu, pc - bias, &f.file, &f.line)) return f;
    if (Dwfl_Line* line = dwfl_module_getsrc(mod, pc)) {
      int line_no = 0;
      const char* file = dwfl_lineinfo(line, nullptr, &line_no, nullptr, nullptr, nullptr);
      if (file != nullptr) {
        f.file = file;
        f.line = line_no;
      }
    }
    return f;
  }

  std::mutex mu_;
  char* debuginfo_path_ = nullptr;  // libdwfl's default search path
  Dwfl_Callbacks callbacks_{};
  Dwfl* dwfl_ = nullptr;  // null if libdwfl could not start: every lookup is then empty
  std::unordered_map<uintptr_t, Frame> cache_;
};

}  // namespace

std::vector<Frame> symbolize(std::span<const uintptr_t> pcs) {
  static Symbolizer* symbolizer = new Symbolizer();  // never destroyed: usable until exit
  return symbolizer->lookup(pcs);
}

std::string function_without_parameters(const std::string& name) {
  // Strip trailing qualifiers (" const", " &&", " volatile") back to the last ')', then the
  // parameter list that ')' closes. Parentheses inside template arguments or lambda names
  // ("{lambda()#1}") are balanced, so matching back from the last ')' finds the list's '('.
  size_t end = name.rfind(')');
  if (end == std::string::npos) return name;
  int depth = 0;
  for (size_t i = end + 1; i-- > 0;) {
    if (name[i] == ')') ++depth;
    if (name[i] == '(' && --depth == 0) return name.substr(0, i);
  }
  return name;
}

}  // namespace spindle::debug
