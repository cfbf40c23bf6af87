// profile.proto writer (pprof_profile.h). Field numbers are those of pprof's
// proto/profile.proto; protozero writes the wire format and zlib the gzip stream.
//
// Addresses: a sample's pcs are return addresses, so each location's address is pc - 1, the
// call instruction (Go's profile builder does the same); symbolize() is asked about that
// address. Each distinct address is one Location with one Line; each distinct (function name,
// file) one Function, named without its parameter list as Go names functions (the full
// demangled name is its system_name).
//
// Mappings come from dl_iterate_phdr: one per executable PT_LOAD segment of every loaded
// object, with the object's file (the executable's from /proc/self/exe) and its GNU build id
// when it has one. A mapping says has_functions / has_filenames / has_line_numbers only when
// every location in it got them, so pprof re-symbolises the rest from the file.
#include "debug/pprof_profile.h"

#include <elf.h>
#include <link.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <map>
#include <protozero/pbf_writer.hpp>
#include <unordered_map>

#include "debug/symbolize.h"

namespace spindle::debug {
namespace {

// profile.proto field numbers.
namespace field {
constexpr protozero::pbf_tag_type kSampleType = 1, kSample = 2, kMapping = 3, kLocation = 4,
                                  kFunction = 5, kStringTable = 6, kTimeNanos = 9,
                                  kDurationNanos = 10, kPeriodType = 11, kPeriod = 12,
                                  kComment = 13;
constexpr protozero::pbf_tag_type kValueTypeType = 1, kValueTypeUnit = 2;
constexpr protozero::pbf_tag_type kSampleLocationId = 1, kSampleValue = 2, kSampleLabel = 3;
constexpr protozero::pbf_tag_type kLabelKey = 1, kLabelStr = 2, kLabelNum = 3, kLabelNumUnit = 4;
constexpr protozero::pbf_tag_type kMappingId = 1, kMappingStart = 2, kMappingLimit = 3,
                                  kMappingOffset = 4, kMappingFilename = 5, kMappingBuildId = 6,
                                  kMappingHasFunctions = 7, kMappingHasFilenames = 8,
                                  kMappingHasLineNumbers = 9;
constexpr protozero::pbf_tag_type kLocationId = 1, kLocationMappingId = 2, kLocationAddress = 3,
                                  kLocationLine = 4;
constexpr protozero::pbf_tag_type kLineFunctionId = 1, kLineLine = 2;
constexpr protozero::pbf_tag_type kFunctionId = 1, kFunctionName = 2, kFunctionSystemName = 3,
                                  kFunctionFilename = 4;
}  // namespace field

class StringTable {
 public:
  StringTable() { index(""); }  // profile.proto: string_table[0] must be ""
  int64_t index(const std::string& s) {
    auto [it, inserted] = ids_.try_emplace(s, static_cast<int64_t>(strings_.size()));
    if (inserted) strings_.push_back(s);
    return it->second;
  }
  const std::vector<std::string>& strings() const { return strings_; }

 private:
  std::unordered_map<std::string, int64_t> ids_;
  std::vector<std::string> strings_;
};

struct Mapping {
  uint64_t start = 0;
  uint64_t limit = 0;
  uint64_t offset = 0;
  std::string file;
  std::string build_id;
  bool has_functions = true;
  bool has_filenames = true;
  bool has_lines = true;
  bool used = false;
};

std::string hex(const unsigned char* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += kDigits[p[i] >> 4];
    out += kDigits[p[i] & 15];
  }
  return out;
}

// The GNU build id in an object's PT_NOTE segments, as hex; "" if none.
std::string build_id_of(const dl_phdr_info* info) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    const auto* p = reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr);
    const unsigned char* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      ElfW(Nhdr) nh;
      std::memcpy(&nh, p, sizeof nh);
      const unsigned char* name = p + sizeof nh;
      const unsigned char* desc = name + ((nh.n_namesz + 3) & ~3u);
      const unsigned char* next = desc + ((nh.n_descsz + 3) & ~3u);
      if (next > end) break;
      if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0) {
        return hex(desc, nh.n_descsz);
      }
      p = next;
    }
  }
  return "";
}

std::string executable_path() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// Every executable segment of every loaded object.
std::vector<Mapping> loaded_mappings() {
  struct Acc {
    std::vector<Mapping> out;
    std::string exe = executable_path();
  } acc;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        auto* acc = static_cast<Acc*>(data);
        const std::string file =
            info->dlpi_name != nullptr && info->dlpi_name[0] != '\0' ? info->dlpi_name : acc->exe;
        const std::string build_id = build_id_of(info);
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0) continue;
          Mapping m;
          m.start = info->dlpi_addr + ph.p_vaddr;
          m.limit = m.start + ph.p_memsz;
          m.offset = ph.p_offset;
          m.file = file;
          m.build_id = build_id;
          acc->out.push_back(std::move(m));
        }
        return 0;
      },
      &acc);
  return acc.out;
}

// The mapping that holds addr, as an index into maps, or -1.
int mapping_of(const std::vector<Mapping>& maps, uint64_t addr) {
  for (size_t i = 0; i < maps.size(); ++i) {
    if (addr >= maps[i].start && addr < maps[i].limit) return static_cast<int>(i);
  }
  return -1;
}

void write_value_type(protozero::pbf_writer& pw, protozero::pbf_tag_type tag, const ValueType& v,
                      StringTable& strings) {
  protozero::pbf_writer vt(pw, tag);
  vt.add_int64(field::kValueTypeType, strings.index(v.type));
  vt.add_int64(field::kValueTypeUnit, strings.index(v.unit));
}

}  // namespace

std::string serialize_profile(const Profile& p) {
  StringTable strings;
  std::vector<Mapping> maps = loaded_mappings();

  // Locations: one per distinct call address.
  std::vector<uintptr_t> addrs;
  std::unordered_map<uintptr_t, uint64_t> location_of;  // address -> location id
  for (const ProfileSample& s : p.samples) {
    for (uintptr_t pc : s.pcs) {
      const uintptr_t addr = pc - 1;
      if (location_of.try_emplace(addr, addrs.size() + 1).second) addrs.push_back(addr);
    }
  }
  const std::vector<Frame> frames = symbolize(addrs);

  std::string out;
  protozero::pbf_writer pw(out);
  for (const ValueType& v : p.sample_types) write_value_type(pw, field::kSampleType, v, strings);
  for (const ProfileSample& s : p.samples) {
    protozero::pbf_writer sw(pw, field::kSample);
    std::vector<uint64_t> ids;
    ids.reserve(s.pcs.size());
    for (uintptr_t pc : s.pcs) ids.push_back(location_of.at(pc - 1));
    sw.add_packed_uint64(field::kSampleLocationId, ids.begin(), ids.end());
    sw.add_packed_int64(field::kSampleValue, s.values.begin(), s.values.end());
    for (const SampleLabel& l : s.labels) {
      protozero::pbf_writer lw(sw, field::kSampleLabel);
      lw.add_int64(field::kLabelKey, strings.index(l.key));
      if (!l.str.empty()) {
        lw.add_int64(field::kLabelStr, strings.index(l.str));
      } else {
        lw.add_int64(field::kLabelNum, l.num);
        if (!l.num_unit.empty()) lw.add_int64(field::kLabelNumUnit, strings.index(l.num_unit));
      }
    }
  }

  // Functions first (a nested message must be finished before its parent's next field).
  std::map<std::pair<std::string, std::string>, uint64_t> function_of;  // (name, file) -> id
  std::vector<uint64_t> function_id(addrs.size(), 0);
  for (size_t i = 0; i < addrs.size(); ++i) {
    const Frame& f = frames[i];
    if (f.function.empty()) continue;
    const std::string name = function_without_parameters(f.function);
    auto [it, inserted] = function_of.try_emplace({name, f.file}, function_of.size() + 1);
    function_id[i] = it->second;
    if (!inserted) continue;
    protozero::pbf_writer fw(pw, field::kFunction);
    fw.add_uint64(field::kFunctionId, it->second);
    fw.add_int64(field::kFunctionName, strings.index(name));
    fw.add_int64(field::kFunctionSystemName, strings.index(f.function));
    fw.add_int64(field::kFunctionFilename, strings.index(f.file));
  }
  for (size_t i = 0; i < addrs.size(); ++i) {
    const Frame& f = frames[i];
    const int m = mapping_of(maps, addrs[i]);
    if (m >= 0) {
      maps[m].used = true;
      maps[m].has_functions &= !f.function.empty();
      maps[m].has_filenames &= !f.file.empty();
      maps[m].has_lines &= f.line > 0;
    }
    protozero::pbf_writer lw(pw, field::kLocation);
    lw.add_uint64(field::kLocationId, i + 1);
    if (m >= 0) lw.add_uint64(field::kLocationMappingId, static_cast<uint64_t>(m) + 1);
    lw.add_uint64(field::kLocationAddress, addrs[i]);
    if (function_id[i] == 0) continue;
    protozero::pbf_writer line(lw, field::kLocationLine);
    line.add_uint64(field::kLineFunctionId, function_id[i]);
    line.add_int64(field::kLineLine, f.line);
  }
  for (size_t i = 0; i < maps.size(); ++i) {
    const Mapping& m = maps[i];
    protozero::pbf_writer mw(pw, field::kMapping);
    mw.add_uint64(field::kMappingId, i + 1);
    mw.add_uint64(field::kMappingStart, m.start);
    mw.add_uint64(field::kMappingLimit, m.limit);
    mw.add_uint64(field::kMappingOffset, m.offset);
    mw.add_int64(field::kMappingFilename, strings.index(m.file));
    mw.add_int64(field::kMappingBuildId, strings.index(m.build_id));
    mw.add_bool(field::kMappingHasFunctions, m.used && m.has_functions);
    mw.add_bool(field::kMappingHasFilenames, m.used && m.has_filenames);
    mw.add_bool(field::kMappingHasLineNumbers, m.used && m.has_lines);
  }
  pw.add_int64(field::kTimeNanos, p.time_nanos);
  if (p.duration_nanos != 0) pw.add_int64(field::kDurationNanos, p.duration_nanos);
  write_value_type(pw, field::kPeriodType, p.period_type, strings);
  pw.add_int64(field::kPeriod, p.period);
  for (const std::string& c : p.comments) pw.add_int64(field::kComment, strings.index(c));
  for (const std::string& s : strings.strings()) pw.add_string(field::kStringTable, s);
  return out;
}

std::string encode_profile(const Profile& p) { return gzip_compress(serialize_profile(p)); }

std::string gzip_compress(std::string_view data) {
  z_stream zs{};
  // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return "";
  }
  std::string out(deflateBound(&zs, data.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(rc == Z_STREAM_END ? zs.total_out : 0);
  deflateEnd(&zs);
  return out;
}

std::string gzip_decompress(std::string_view data) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return "";
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buf[16384];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
  }
  inflateEnd(&zs);
  return rc == Z_STREAM_END ? out : std::string();
}

}  // namespace spindle::debug
