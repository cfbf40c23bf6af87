// The stats families that /metrics enumerates (base/stats.h) name their fields by
// Prometheus' conventions: snake_case, counters end in _total and gauges do not, one line of
// help each, no name twice in a family.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "base/stats.h"
#include "http/connection_pool.h"
#include "http/server.h"
#include "lb/proxy.h"
#include "lb/registry.h"
#include "runtime/runtime.h"

namespace spindle::lb {
namespace {

template <class Snapshot>
void expect_conventional_names(const char* family) {
  std::set<std::string> seen;
  std::size_t fields = 0;
  base::for_each_metric(Snapshot{}, [&](const base::Metric& m) {
    ++fields;
    const std::string name(m.name);
    SCOPED_TRACE(std::string(family) + ": " + name);
    EXPECT_TRUE(seen.insert(name).second) << "named twice";
    EXPECT_FALSE(name.empty());
    for (char c : name) EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
    EXPECT_NE(name.front(), '_');
    EXPECT_NE(name.back(), '_');
    const bool total = name.ends_with("_total");
    EXPECT_EQ(total, m.kind == base::MetricKind::kCounter);
    EXPECT_FALSE(m.help.empty());
    EXPECT_EQ(m.help.find('\n'), std::string_view::npos);
    EXPECT_EQ(m.value, 0.0);
  });
  EXPECT_EQ(fields * sizeof(std::uint64_t), sizeof(Snapshot)) << family;
}

TEST(MetricNamesTest, EveryFamilyFollowsTheConventions) {
  expect_conventional_names<ProxyStats>("ProxyStats");
  expect_conventional_names<RegistryStats>("RegistryStats");
  expect_conventional_names<http::ServerStats>("http::ServerStats");
  expect_conventional_names<http::PoolStats>("http::PoolStats");
  expect_conventional_names<runtime::Stats>("runtime::Stats");
}

}  // namespace
}  // namespace spindle::lb
