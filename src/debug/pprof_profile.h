// A writer of pprof's profile.proto (the format `go tool pprof` reads): samples of stacks with
// values and labels become one Profile message — string table, Function, Location and Mapping
// tables (the executable and every shared object loaded, with build ids, so pprof can also
// symbolise again from the binaries), sample types, period and duration — encoded with
// protozero and gzip-compressed with zlib. Functions are named by symbolize.h.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace spindle::debug {

struct ValueType {
  std::string type;  // e.g. "samples", "cpu", "contentions", "delay"
  std::string unit;  // e.g. "count", "nanoseconds"
};

// A string label when str is not empty, else a number (with an optional unit).
struct SampleLabel {
  std::string key;
  std::string str;
  int64_t num = 0;
  std::string num_unit;
};

struct ProfileSample {
  std::vector<uintptr_t> pcs;   // return addresses, innermost first (a sampled PC + 1)
  std::vector<int64_t> values;  // one per sample type
  std::vector<SampleLabel> labels;
};

struct Profile {
  std::vector<ValueType> sample_types;
  ValueType period_type;
  int64_t period = 0;
  int64_t time_nanos = 0;      // wall-clock start, Unix nanoseconds
  int64_t duration_nanos = 0;  // 0: not a timed profile
  std::vector<std::string> comments;
  std::vector<ProfileSample> samples;
};

// The Profile message, uncompressed. Symbolises the samples' addresses (symbolize.h: reads
// debug information on first use and blocks its thread meanwhile; from a goroutine call it
// inside runtime::blocking()).
std::string serialize_profile(const Profile& p);
// serialize_profile, gzip-compressed: what /debug/pprof/ serves and pprof reads.
std::string encode_profile(const Profile& p);

// gzip (RFC 1952) with zlib.
std::string gzip_compress(std::string_view data);
// The inverse, for tests and tools; "" if data is not valid gzip.
std::string gzip_decompress(std::string_view data);

}  // namespace spindle::debug
