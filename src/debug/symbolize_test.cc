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
  EXPECT_EQ(function_without_parameters("spindle_switch_context"), "spindle_switch_context");
  EXPECT_EQ(function_without_parameters("f(double) [clone .constprop.0]"), "f");
}

}  // namespace
}  // namespace spindle::debug
