// The profile.proto writer: what pprof reads back — string table, sample types, values,
// labels, locations named by the symboliser, mappings of the executable with its build id —
// and gzip that round-trips.
#include "debug/pprof_profile.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "debug/pprof_reader_for_test.h"

namespace spindle::debug::pprof_profile_test {

// Two functions to point samples at (outside any anonymous namespace: plain names).
__attribute__((noinline)) int leaf_for_profile(int x) { return x * 3 + 1; }
__attribute__((noinline)) int caller_for_profile(int x) { return leaf_for_profile(x) + 1; }

namespace {

// A return address inside f: a few bytes past its start, plus one (what a walk yields).
uintptr_t inside(int (*f)(int)) { return reinterpret_cast<uintptr_t>(f) + 4 + 1; }

std::string exe() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf);
  return std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
}

TEST(PprofProfile, EncodesWhatPprofReads) {
  Profile p;
  p.sample_types = {{"samples", "count"}, {"cpu", "nanoseconds"}};
  p.period_type = {"cpu", "nanoseconds"};
  p.period = 10'000'000;
  p.time_nanos = 1'700'000'000'000'000'000;
  p.duration_nanos = 2'000'000'000;
  p.comments = {"a comment"};
  p.samples.push_back(ProfileSample{{inside(&leaf_for_profile), inside(&caller_for_profile)},
                                    {3, 30'000'000},
                                    {{"worker", "a", 0, ""}, {"goroutine", "", 17, ""}}});
  p.samples.push_back(ProfileSample{{inside(&caller_for_profile)}, {1, 10'000'000}, {}});

  const std::string gz = encode_profile(p);
  ASSERT_EQ(gz.substr(0, 2), "\x1f\x8b");  // the gzip magic
  const std::string raw = gzip_decompress(gz);
  ASSERT_EQ(raw, serialize_profile(p));
  const testing::DecodedProfile d = testing::decode_profile(raw);

  ASSERT_FALSE(d.strings.empty());
  EXPECT_EQ(d.strings[0], "");
  ASSERT_EQ(d.sample_types.size(), 2u);
  EXPECT_EQ(d.sample_types[0], std::make_pair(std::string("samples"), std::string("count")));
  EXPECT_EQ(d.sample_types[1], std::make_pair(std::string("cpu"), std::string("nanoseconds")));
  EXPECT_EQ(d.period_type, std::make_pair(std::string("cpu"), std::string("nanoseconds")));
  EXPECT_EQ(d.period, 10'000'000);
  EXPECT_EQ(d.time_nanos, p.time_nanos);
  EXPECT_EQ(d.duration_nanos, 2'000'000'000);
  EXPECT_EQ(d.comments, std::vector<std::string>{"a comment"});

  ASSERT_EQ(d.samples.size(), 2u);
  EXPECT_EQ(d.samples[0].values, (std::vector<int64_t>{3, 30'000'000}));
  const std::vector<std::string> stack = d.stack(d.samples[0]);
  ASSERT_EQ(stack.size(), 2u);
  EXPECT_EQ(stack[0], "spindle::debug::pprof_profile_test::leaf_for_profile");
  EXPECT_EQ(stack[1], "spindle::debug::pprof_profile_test::caller_for_profile");
  // The second sample's only frame is the first's second: one location serves both.
  EXPECT_EQ(d.samples[1].locations, std::vector<uint64_t>{d.samples[0].locations[1]});
  ASSERT_EQ(d.samples[0].labels.size(), 2u);
  EXPECT_EQ(d.samples[0].labels[0].key, "worker");
  EXPECT_EQ(d.samples[0].labels[0].str, "a");
  EXPECT_EQ(d.samples[0].labels[1].key, "goroutine");
  EXPECT_EQ(d.samples[0].labels[1].num, 17);

  // Each location lies in a mapping of this executable, which names its file and build id.
  for (const auto& [id, loc] : d.locations) {
    EXPECT_EQ(loc.address,
              reinterpret_cast<uintptr_t>(id == d.samples[0].locations[0] ? &leaf_for_profile
                                                                          : &caller_for_profile) +
                  4);
    ASSERT_TRUE(d.mappings.contains(loc.mapping));
    const testing::DecodedMapping& m = d.mappings.at(loc.mapping);
    EXPECT_LE(m.start, loc.address);
    EXPECT_LT(loc.address, m.limit);
    EXPECT_EQ(m.file, exe());
    EXPECT_EQ(m.build_id.size(), 40u) << m.build_id;  // a SHA-1 build id, in hex
    EXPECT_TRUE(m.has_functions);
  }
  bool libc = false;
  for (const auto& [id, m] : d.mappings) libc = libc || m.file.find("libc.so") != std::string::npos;
  EXPECT_TRUE(libc);  // shared objects are listed too
}

TEST(PprofProfile, GzipRoundTripsAndRejectsGarbage) {
  const std::string text(100'000, 'x');
  const std::string gz = gzip_compress(text);
  EXPECT_LT(gz.size(), text.size() / 10);
  EXPECT_EQ(gzip_decompress(gz), text);
  EXPECT_EQ(gzip_decompress("not gzip"), "");
  EXPECT_EQ(gzip_decompress(gzip_compress("")), "");
}

}  // namespace
}  // namespace spindle::debug::pprof_profile_test
