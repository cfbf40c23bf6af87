// Symbolisation (symbolize.h) with elfutils' libdwfl, the library behind eu-addr2line and
// eu-stack: it finds every module mapped into the process (/proc/self/maps), reads its symbol
// table and DWARF (4 and 5, as g++ 12 and clang 14 write it; also separate debug files under
// /usr/lib/debug), and answers address -> symbol and address -> line.
//
// Why libdw: Debian packages and maintains it (elfutils, libdw-dev), it reads the DWARF both
// our compilers emit, and it resolves every loaded module, not only the executable.
// Rejected: libbacktrace (no Debian development package: it ships only inside GCC's sources,
// so we would vendor a copy); libunwind's unw_get_proc_name (symbol names only, no file:line,
// so a second DWARF reader would be needed beside it); our own DWARF reader (line
// programs, ranges and inlining across DWARF 4 and 5 are a format to keep up with, not a
// weekend's parser); backtrace_symbols (dynamic symbols only: nothing for static or
// hidden functions, no lines).
//
// symbolize(): a frame's function is the symbol that contains the address (the real, not
// inlined, function), and its file:line is the line *in that function*: when the address lies
// in code inlined into it, the line of the outermost inlined call. Function and line then
// always belong together, and a function that was called but inlined does not hide its caller.
// symbolize_inlined() adds the inlined functions in front, from the DWARF scopes at the address
// (DW_TAG_inlined_subroutine: the function through its abstract origin, where it was called
// from through DW_AT_call_file/DW_AT_call_line), so a lambda inlined into the Task that runs
// it still shows.
//
// One Dwfl handle serves the whole process under one lock; libdwfl is not thread-safe.
#include "debug/symbolize.h"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <string_view>
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

std::string die_function(Dwarf_Die* die);

// A function DIE's name qualified by the namespaces and classes around its declaration, for a
// function without a linkage name (one with internal linkage that was only ever inlined). No
// parameter list: DWARF has the types, not their spelling.
std::string qualified_dwarf_name(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  Dwarf_Die origin, spec;
  if (dwarf_formref_die(dwarf_attr(die, DW_AT_abstract_origin, &attr), &origin) != nullptr) {
    die = &origin;
  }
  if (dwarf_formref_die(dwarf_attr(die, DW_AT_specification, &attr), &spec) != nullptr) die = &spec;
  const char* name = dwarf_diename(die);
  if (name == nullptr) return "";
  std::string out = name;
  Dwarf_Die* scopes = nullptr;
  const int n = dwarf_getscopes_die(die, &scopes);
  for (int i = 1; i < n; ++i) {
    const int tag = dwarf_tag(&scopes[i]);
    const char* scope = dwarf_diename(&scopes[i]);
    if (tag == DW_TAG_subprogram) {  // a lambda's function: its name is qualified already
      const std::string fn = function_without_parameters(die_function(&scopes[i]));
      if (!fn.empty()) out = fn + "::" + out;
      break;
    }
    if (tag == DW_TAG_namespace) {
      out = std::string(scope != nullptr ? scope : "(anonymous namespace)") + "::" + out;
    } else if (tag == DW_TAG_class_type || tag == DW_TAG_structure_type ||
               tag == DW_TAG_union_type) {
      out = std::string(scope != nullptr ? scope : "{lambda}") + "::" + out;  // unnamed: a lambda
    }
  }
  std::free(scopes);
  return out;
}

// The name of a subprogram or inlined subroutine DIE: its linkage name demangled (found through
// DW_AT_abstract_origin and DW_AT_specification), else its qualified plain name.
std::string die_function(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  for (int at : {DW_AT_linkage_name, DW_AT_MIPS_linkage_name}) {
    if (const char* linkage = dwarf_formstring(dwarf_attr_integrate(die, at, &attr))) {
      return demangle(linkage);
    }
  }
  return qualified_dwarf_name(die);
}

// The call site of an inlined subroutine DIE (DW_AT_call_file, DW_AT_call_line) in cu.
bool call_site(Dwarf_Die* cu, Dwarf_Die* inlined, std::string* file, int* line) {
  Dwarf_Attribute attr;
  Dwarf_Word file_index = 0, line_no = 0;
  Dwarf_Files* files = nullptr;
  size_t nfiles = 0;
  if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_file, &attr), &file_index) != 0 ||
      dwarf_formudata(dwarf_attr(inlined, DW_AT_call_line, &attr), &line_no) != 0 ||
      dwarf_getsrcfiles(cu, &files, &nfiles) != 0 || file_index >= nfiles) {
    return false;
  }
  const char* name = dwarf_filesrc(files, file_index, nullptr, nullptr);
  if (name == nullptr) return false;
  *file = name;
  *line = static_cast<int>(line_no);
  return true;
}

// Appends to `path` the DIEs from `parent`'s children down to the innermost scope containing
// address `rel`: the function definition (DW_TAG_subprogram), then the inlined subroutines and
// blocks inside it. Namespaces and classes are searched for the definition. (libdw's
// dwarf_getscopes finds no scope for functions nested in namespaces of clang's DWARF.)
bool find_scopes(Dwarf_Die* parent, Dwarf_Addr rel, bool in_function,
                 std::vector<Dwarf_Die>& path) {
  Dwarf_Die child;
  if (dwarf_child(parent, &child) != 0) return false;
  do {
    const int tag = dwarf_tag(&child);
    const bool scope = in_function ? tag == DW_TAG_inlined_subroutine || tag == DW_TAG_lexical_block
                                   : tag == DW_TAG_subprogram;
    if (scope && dwarf_haspc(&child, rel) == 1) {
      Dwarf_Die found = child;  // not &path.back(): the recursion may grow path
      path.push_back(found);
      find_scopes(&found, rel, true, path);
      return true;
    }
    if (!in_function && (tag == DW_TAG_namespace || tag == DW_TAG_class_type ||
                         tag == DW_TAG_structure_type || tag == DW_TAG_union_type)) {
      if (find_scopes(&child, rel, false, path)) return true;
    }
  } while (dwarf_siblingof(&child, &child) == 0);
  return false;
}

// The functions inlined at address `rel` of compilation unit `cu`, innermost first, each with
// the line it is at: the innermost at `file`:`line` (the address's own line), each outer one at
// the call site of the one inside it. Returns the chain without the real function, and sets
// `file`/`line` to the real function's line (the outermost call site).
std::vector<Frame> inlined_chain(Dwarf_Die* cu, Dwarf_Addr rel, std::string* file, int* line) {
  std::vector<Dwarf_Die> path;  // outermost first
  find_scopes(cu, rel, false, path);
  std::vector<Frame> chain;
  for (size_t i = path.size(); i-- > 1;) {
    if (dwarf_tag(&path[i]) != DW_TAG_inlined_subroutine) continue;
    Frame f;
    f.function = die_function(&path[i]);
    f.file = *file;
    f.line = *line;
    f.inlined = true;
    chain.push_back(std::move(f));
    if (!call_site(cu, &path[i], file, line)) break;
  }
  return chain;
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

  // One chain per pc (resolve), from the cache.
  std::vector<std::vector<Frame>> lookup(std::span<const uintptr_t> pcs) {
    std::lock_guard<std::mutex> l(mu_);
    std::vector<std::vector<Frame>> out;
    out.reserve(pcs.size());
    bool reported = false;
    for (uintptr_t pc : pcs) {
      auto it = cache_.find(pc);
      if (it == cache_.end()) {
        std::vector<Frame> chain = resolve(pc);
        if (chain.back().function.empty() && !reported) {  // a module loaded since the report?
          reported = true;
          report();
          chain = resolve(pc);
        }
        it = cache_.emplace(pc, std::move(chain)).first;
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

  // pc's inlined functions, innermost first, then the real function (always present).
  std::vector<Frame> resolve(uintptr_t pc) {
    Frame f;
    f.pc = pc;
    Dwfl_Module* mod = dwfl_ != nullptr ? dwfl_addrmodule(dwfl_, pc) : nullptr;
    if (mod == nullptr) return {f};
    GElf_Off offset = 0;
    GElf_Sym sym;
    if (const char* name =
            dwfl_module_addrinfo(mod, pc, &offset, &sym, nullptr, nullptr, nullptr)) {
      f.function = demangle(name);
      f.offset = offset;
    }
    if (Dwfl_Line* line = dwfl_module_getsrc(mod, pc)) {
      if (const char* file = dwfl_lineinfo(line, nullptr, &f.line, nullptr, nullptr, nullptr)) {
        f.file = file;
      }
    }
    std::vector<Frame> chain;
    Dwarf_Addr bias = 0;
    if (Dwarf_Die* cu = dwfl_module_addrdie(mod, pc, &bias)) {
      chain = inlined_chain(cu, pc - bias, &f.file, &f.line);
    }
    for (Frame& inl : chain) inl.pc = pc;
    chain.push_back(std::move(f));
    return chain;
  }

  std::mutex mu_;
  char* debuginfo_path_ = nullptr;  // libdwfl's default search path
  Dwfl_Callbacks callbacks_{};
  Dwfl* dwfl_ = nullptr;  // null if libdwfl could not start: every lookup is then empty
  std::unordered_map<uintptr_t, std::vector<Frame>> cache_;
};

Symbolizer& symbolizer() {
  static Symbolizer* s = new Symbolizer();  // never destroyed: usable until exit
  return *s;
}

}  // namespace

std::vector<Frame> symbolize(std::span<const uintptr_t> pcs) {
  std::vector<Frame> out;
  out.reserve(pcs.size());
  for (std::vector<Frame>& chain : symbolizer().lookup(pcs)) out.push_back(std::move(chain.back()));
  return out;
}

std::vector<std::vector<Frame>> symbolize_inlined(std::span<const uintptr_t> pcs) {
  return symbolizer().lookup(pcs);
}

std::string function_without_parameters(const std::string& name) {
  // Strip trailing qualifiers (" const", " &&", " volatile") back to the last ')', then the
  // parameter list that ')' closes. Parentheses inside template arguments or lambda names
  // ("{lambda()#1}") are balanced, so matching back from the last ')' finds the list's '('.
  size_t end = name.rfind(')');
  // No list at all when the last ')' is a scope's: "(anonymous namespace)::f".
  if (end == std::string::npos || name.find("::", end) != std::string::npos) return name;
  int depth = 0;
  for (size_t i = end + 1; i-- > 0;) {
    if (name[i] == ')') ++depth;
    if (name[i] == '(' && --depth == 0) {
      // "X::operator()" without a list: those parentheses are the operator's name.
      return std::string_view(name).substr(0, i).ends_with("operator") ? name : name.substr(0, i);
    }
  }
  return name;
}

}  // namespace spindle::debug
