#include "debug/goroutine_dump.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <vector>

#include "debug/pages.h"
#include "debug/symbolize.h"
#include "runtime/blocking.h"

namespace spindle::debug {
namespace {

std::string hex(uintptr_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIxPTR, v);
  return buf;
}

// One group's "#" lines: the frames of its stack that a dump shows.
std::string frame_lines(std::span<const uintptr_t> stack) {
  std::vector<uintptr_t> pcs;  // call sites
  for (uintptr_t pc : stack) pcs.push_back(pc - 1);
  std::vector<Frame> frames;
  for (std::vector<Frame>& chain : symbolize_inlined(pcs)) {
    const uintptr_t offset = chain.back().offset;  // inlined frames: the real function's
    for (Frame& f : chain) {
      f.offset = offset;
      frames.push_back(std::move(f));
    }
  }
  const auto [first, last] = runtime::shown_frames(frames);
  std::string out;
  for (size_t i = first; i < last; ++i) {
    const Frame& f = frames[i];
    out += "#\t" + hex(f.pc) + '\t';
    if (f.function.empty()) {
      out += '\n';  // Go prints only the address when it knows no function
      continue;
    }
    out += function_without_parameters(f.function) + '+' + hex(f.offset) + '\t' +
           (f.file.empty() ? "?" : f.file) + ':' + std::to_string(f.line) + '\n';
  }
  return out;
}

}  // namespace

std::string goroutine_profile_text(std::span<const runtime::GoroutineRecord> goroutines) {
  struct Group {
    const runtime::GoroutineRecord* first = nullptr;
    int count = 0;
  };
  // Key: the "@ 0x.. 0x.." text (Go sorts ties by it), then the reason a stack is missing.
  std::map<std::string, Group> groups;
  for (const runtime::GoroutineRecord& g : goroutines) {
    std::string key = "@";
    for (uintptr_t pc : g.stack) key += ' ' + hex(pc);
    if (g.no_stack != nullptr) key += std::string("\n") + g.no_stack;
    Group& group = groups[key];
    if (group.first == nullptr) group.first = &g;
    ++group.count;
  }
  std::vector<std::pair<const std::string*, const Group*>> order;
  for (const auto& [key, group] : groups) order.emplace_back(&key, &group);
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.second->count > b.second->count; });
  std::string out = "goroutine profile: total " + std::to_string(goroutines.size()) + '\n';
  for (const auto& [key, group] : order) {
    const runtime::GoroutineRecord& g = *group->first;
    out += std::to_string(group->count) + ' ' + key->substr(0, key->find('\n')) + '\n';
    out += frame_lines(g.stack);
    if (g.no_stack != nullptr) out += std::string("#\t") + g.no_stack + '\n';
    out += '\n';
  }
  return out;
}

Profile goroutine_profile(std::span<const runtime::GoroutineRecord> goroutines,
                          int64_t time_unix_ns) {
  Profile p;
  p.sample_types = {{"goroutine", "count"}};
  p.period_type = {"goroutine", "count"};
  p.period = 1;
  p.time_nanos = time_unix_ns;
  // Key: the stack, then the reason it is missing ("" when it was read).
  std::map<std::pair<std::vector<uintptr_t>, std::string>, int64_t> counts;
  for (const runtime::GoroutineRecord& g : goroutines) {
    ++counts[{g.stack, g.no_stack != nullptr ? g.no_stack : ""}];
  }
  for (const auto& [key, count] : counts) {
    ProfileSample s{.pcs = key.first, .values = {count}, .labels = {}};
    if (!key.second.empty())
      s.labels.push_back({.key = "stack", .str = key.second, .num = 0, .num_unit = ""});
    p.samples.push_back(std::move(s));
  }
  return p;
}

Page goroutine_page(std::string_view query) {
  const std::string_view value = query_value(query, "debug").value_or("");
  int debug = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), debug);
  if (ec != std::errc() || end != value.data() + value.size()) debug = 0;
  const int64_t now_unix_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  const std::vector<runtime::GoroutineRecord> goroutines = runtime::goroutine_snapshot();
  if (debug <= 0) {
    return {200, runtime::blocking([&] {
              return encode_profile(goroutine_profile(goroutines, now_unix_ns));
            }),
            true};
  }
  // Symbolising may read the binary's debug information: keep the processor's other
  // goroutines running meanwhile.
  return {200, runtime::blocking([&] {
            return debug >= 2 ? runtime::format_goroutines(goroutines)
                              : goroutine_profile_text(goroutines);
          })};
}

}  // namespace spindle::debug
