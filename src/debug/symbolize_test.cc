#include "debug/symbolize.h"

#include <gtest/gtest.h>

#include <array>
#include <thread>
#include <vector>

namespace spindle::debug {
namespace {

// The address this function returns to in its caller.
[[gnu::noinline]] uintptr_t return_address() {
  asm volatile("");
  return reinterpret_cast<uintptr_t>(__builtin_return_address(0));
}

template <typename T>
[[gnu::noinline]] uintptr_t templated_caller(T) {
  const uintptr_t ret = return_address();
  asm volatile("");
  return ret;
}

TEST(Symbolize, FunctionFileAndLineOfACallSite) {
  const int line = __LINE__ + 1;
  const uintptr_t ret = return_address();
  const std::array pcs{ret - 1};
  const std::vector<Frame> frames = symbolize(pcs);
  ASSERT_EQ(frames.size(), 1u);
  const Frame& f = frames[0];
  EXPECT_EQ(f.pc, ret - 1);
  EXPECT_EQ(function_without_parameters(f.function),
            "spindle::debug::(anonymous namespace)::Symbolize_FunctionFileAndLineOfACallSite_Test::"
            "TestBody")
      << f.function;
  EXPECT_TRUE(f.file.ends_with("src/debug/symbolize_test.cc")) << f.file;
  EXPECT_EQ(f.line, line);
  EXPECT_GT(f.offset, 0u);
}

// An address inside an instruction of this function, which is inlined into its caller (the
// lea's own last byte: %rip is the next instruction's address).
[[gnu::always_inline]] inline uintptr_t here() {
  uintptr_t pc;
  asm volatile("lea -1(%%rip), %0" : "=r"(pc));
  return pc;
}

const int kHereLine = __LINE__ - 4;  // the asm statement's
const int kCallLine = __LINE__ + 3;  // here()'s call in outer()

[[gnu::noinline]] uintptr_t outer() {
  const uintptr_t pc = here();
  asm volatile("");
  return pc;
}

TEST(Symbolize, InlinedCallsShowWithTheLineEachIsAt) {
  const uintptr_t pcs[] = {outer()};
  const std::vector<std::vector<Frame>> chains = symbolize_inlined(pcs);
  ASSERT_EQ(chains.size(), 1u);
  const std::vector<Frame>& chain = chains[0];
  ASSERT_EQ(chain.size(), 2u);
  // Without a linkage name (internal linkage, never emitted out of line) the name comes from
  // the DWARF scopes, without parameters; with one it is demangled.
  EXPECT_EQ(function_without_parameters(chain[0].function),
            "spindle::debug::(anonymous namespace)::here")
      << chain[0].function;
  EXPECT_TRUE(chain[0].inlined);
  EXPECT_EQ(chain[0].line, kHereLine);
  EXPECT_TRUE(chain[0].file.ends_with("src/debug/symbolize_test.cc")) << chain[0].file;
  EXPECT_EQ(chain[1].function, "spindle::debug::(anonymous namespace)::outer()");
  EXPECT_FALSE(chain[1].inlined);
  EXPECT_EQ(chain[1].line, kCallLine);
  // symbolize() gives the real function, at the line in it.
  const Frame f = symbolize(pcs)[0];
  EXPECT_EQ(f.function, chain[1].function);
  EXPECT_EQ(f.line, kCallLine);
}

TEST(Symbolize, DemanglesTemplates) {
  const uintptr_t ret = templated_caller(1.5);
  const uintptr_t pcs[] = {ret - 1};
  const Frame f = symbolize(pcs)[0];
  // g++ may add " [clone .constprop.0]" for a specialised copy.
  EXPECT_TRUE(f.function.starts_with(
      "unsigned long spindle::debug::(anonymous namespace)::templated_caller<double>(double)"))
      << f.function;
  EXPECT_EQ(function_without_parameters(f.function),
            "unsigned long spindle::debug::(anonymous namespace)::templated_caller<double>");
}

TEST(Symbolize, UnknownAddressesAreEmpty) {
  const uintptr_t pcs[] = {0x10, 0x20};
  const std::vector<Frame> frames = symbolize(pcs);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[1].pc, 0x20u);
  EXPECT_EQ(frames[1].function, "");
  EXPECT_EQ(frames[1].file, "");
  EXPECT_EQ(frames[1].line, 0);
}

TEST(Symbolize, ThreadSafe) {
  const uintptr_t ret = return_address();
  std::vector<std::thread> threads;
  std::vector<std::string> names(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      for (int k = 0; k < 50; ++k) {
        const uintptr_t pcs[] = {ret - 1, ret - 1 + static_cast<uintptr_t>(k)};
        names[i] = symbolize(pcs)[0].function;
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const std::string& n : names) EXPECT_EQ(n, names[0]);
  EXPECT_NE(names[0], "");
}

TEST(Symbolize, FunctionWithoutParameters) {
  EXPECT_EQ(function_without_parameters("f(int)"), "f");
  EXPECT_EQ(function_without_parameters("ns::C<int (*)(char)>::run(int) const"),
            "ns::C<int (*)(char)>::run");
  EXPECT_EQ(function_without_parameters("ns::C::operator()(int) const &&"), "ns::C::operator()");
  EXPECT_EQ(function_without_parameters("main::{lambda()#1}::operator()() const"),
            "main::{lambda()#1}::operator()");
  EXPECT_EQ(function_without_parameters("(anonymous namespace)::g()"), "(anonymous namespace)::g");
  EXPECT_EQ(function_without_parameters("(anonymous namespace)::g"), "(anonymous namespace)::g");
  EXPECT_EQ(function_without_parameters("f::{lambda}::operator()"), "f::{lambda}::operator()");
  EXPECT_EQ(function_without_parameters("spindle_switch_context"), "spindle_switch_context");
  EXPECT_EQ(function_without_parameters("f(double) [clone .constprop.0]"), "f");
}

}  // namespace
}  // namespace spindle::debug
