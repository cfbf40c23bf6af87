// Test helper: decodes a profile.proto message (pprof_profile.h) with protozero's reader into
// plain structs, so tests assert what pprof would read.
#pragma once

#include <cstdint>
#include <map>
#include <protozero/pbf_reader.hpp>
#include <string>
#include <vector>

namespace spindle::debug::testing {

struct DecodedLabel {
  std::string key, str;
  int64_t num = 0;
};
struct DecodedSample {
  std::vector<uint64_t> locations;
  std::vector<int64_t> values;
  std::vector<DecodedLabel> labels;
};
struct DecodedMapping {
  uint64_t start = 0, limit = 0, offset = 0;
  std::string file, build_id;
  bool has_functions = false;
};
struct DecodedLocation {
  uint64_t mapping = 0, address = 0;
  std::vector<uint64_t> functions;  // one per Line
};
struct DecodedProfile {
  std::vector<std::string> strings;
  std::vector<std::pair<std::string, std::string>> sample_types;
  std::pair<std::string, std::string> period_type;
  int64_t period = 0, time_nanos = 0, duration_nanos = 0;
  std::vector<DecodedSample> samples;
  std::map<uint64_t, DecodedMapping> mappings;
  std::map<uint64_t, DecodedLocation> locations;
  std::map<uint64_t, std::string> function_names;
  std::vector<std::string> comments;

  // The function names of a sample's stack, innermost first ("" for an unsymbolised frame).
  std::vector<std::string> stack(const DecodedSample& s) const {
    std::vector<std::string> out;
    for (uint64_t id : s.locations) {
      const DecodedLocation& l = locations.at(id);
      out.push_back(l.functions.empty() ? "" : function_names.at(l.functions[0]));
    }
    return out;
  }
};

inline DecodedProfile decode_profile(const std::string& data) {
  DecodedProfile p;
  std::vector<std::pair<int64_t, int64_t>> types;
  std::pair<int64_t, int64_t> period_type{0, 0};
  std::vector<int64_t> comments;
  std::vector<std::pair<DecodedSample, std::vector<std::pair<int64_t, int64_t>>>> raw;
  struct RawLabel {
    int64_t key = 0, str = 0, num = 0;
  };
  std::vector<std::vector<RawLabel>> raw_labels;
  std::vector<std::pair<uint64_t, std::pair<int64_t, int64_t>>> raw_maps;  // names later
  std::map<uint64_t, int64_t> raw_functions;
  protozero::pbf_reader r(data);
  auto value_type = [](protozero::pbf_reader m) {
    std::pair<int64_t, int64_t> v{0, 0};
    while (m.next()) {
      if (m.tag() == 1) {
        v.first = m.get_int64();
      } else if (m.tag() == 2) {
        v.second = m.get_int64();
      } else {
        m.skip();
      }
    }
    return v;
  };
  while (r.next()) {
    switch (r.tag()) {
      case 1:
        types.push_back(value_type(r.get_message()));
        break;
      case 2: {
        protozero::pbf_reader m = r.get_message();
        DecodedSample s;
        std::vector<RawLabel> labels;
        while (m.next()) {
          if (m.tag() == 1) {
            for (uint64_t v : m.get_packed_uint64()) s.locations.push_back(v);
          } else if (m.tag() == 2) {
            for (int64_t v : m.get_packed_int64()) s.values.push_back(v);
          } else if (m.tag() == 3) {
            protozero::pbf_reader l = m.get_message();
            RawLabel rl;
            while (l.next()) {
              if (l.tag() == 1) {
                rl.key = l.get_int64();
              } else if (l.tag() == 2) {
                rl.str = l.get_int64();
              } else if (l.tag() == 3) {
                rl.num = l.get_int64();
              } else {
                l.skip();
              }
            }
            labels.push_back(rl);
          } else {
            m.skip();
          }
        }
        p.samples.push_back(s);
        raw_labels.push_back(labels);
        break;
      }
      case 3: {
        protozero::pbf_reader m = r.get_message();
        uint64_t id = 0;
        DecodedMapping dm;
        int64_t file = 0, build = 0;
        while (m.next()) {
          switch (m.tag()) {
            case 1:
              id = m.get_uint64();
              break;
            case 2:
              dm.start = m.get_uint64();
              break;
            case 3:
              dm.limit = m.get_uint64();
              break;
            case 4:
              dm.offset = m.get_uint64();
              break;
            case 5:
              file = m.get_int64();
              break;
            case 6:
              build = m.get_int64();
              break;
            case 7:
              dm.has_functions = m.get_bool();
              break;
            default:
              m.skip();
          }
        }
        p.mappings[id] = dm;
        raw_maps.push_back({id, {file, build}});
        break;
      }
      case 4: {
        protozero::pbf_reader m = r.get_message();
        uint64_t id = 0;
        DecodedLocation l;
        while (m.next()) {
          if (m.tag() == 1) {
            id = m.get_uint64();
          } else if (m.tag() == 2) {
            l.mapping = m.get_uint64();
          } else if (m.tag() == 3) {
            l.address = m.get_uint64();
          } else if (m.tag() == 4) {
            protozero::pbf_reader line = m.get_message();
            while (line.next()) {
              if (line.tag() == 1) {
                l.functions.push_back(line.get_uint64());
              } else {
                line.skip();
              }
            }
          } else {
            m.skip();
          }
        }
        p.locations[id] = l;
        break;
      }
      case 5: {
        protozero::pbf_reader m = r.get_message();
        uint64_t id = 0;
        int64_t name = 0;
        while (m.next()) {
          if (m.tag() == 1) {
            id = m.get_uint64();
          } else if (m.tag() == 2) {
            name = m.get_int64();
          } else {
            m.skip();
          }
        }
        raw_functions[id] = name;
        break;
      }
      case 6:
        p.strings.push_back(std::string(r.get_view()));
        break;
      case 9:
        p.time_nanos = r.get_int64();
        break;
      case 10:
        p.duration_nanos = r.get_int64();
        break;
      case 11:
        period_type = value_type(r.get_message());
        break;
      case 12:
        p.period = r.get_int64();
        break;
      case 13:
        comments.push_back(r.get_int64());
        break;
      default:
        r.skip();
    }
  }
  auto str = [&](int64_t i) { return p.strings.at(static_cast<size_t>(i)); };
  for (auto [t, u] : types) p.sample_types.push_back({str(t), str(u)});
  p.period_type = {str(period_type.first), str(period_type.second)};
  for (int64_t c : comments) p.comments.push_back(str(c));
  for (size_t i = 0; i < p.samples.size(); ++i) {
    for (const RawLabel& l : raw_labels[i]) {
      p.samples[i].labels.push_back({str(l.key), l.str != 0 ? str(l.str) : "", l.num});
    }
  }
  for (auto& [id, names] : raw_maps) {
    p.mappings[id].file = str(names.first);
    p.mappings[id].build_id = str(names.second);
  }
  for (auto [id, name] : raw_functions) p.function_names[id] = str(name);
  return p;
}

}  // namespace spindle::debug::testing
