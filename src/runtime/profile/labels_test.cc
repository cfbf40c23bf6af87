// Goroutine labels: sets, scopes that restore, inheritance by spawned goroutines.
#include "runtime/profile/labels.h"

#include <gtest/gtest.h>

#include <string>

#include "runtime/runtime.h"
#include "runtime/sync/wait_group.h"

namespace spindle::runtime {
namespace {

std::string text(const LabelSet& s) {
  std::string out;
  for (const Label& l : s.labels()) out += l.key + "=" + l.value + ";";
  return out;
}

TEST(Labels, SetsAreSortedWithTheLastValueWinning) {
  LabelSet s{{"b", "1"}, {"a", "2"}, {"b", "3"}};
  EXPECT_EQ(text(s), "a=2;b=3;");
  EXPECT_EQ(s.get("b"), "3");
  EXPECT_EQ(s.get("c"), std::nullopt);
  EXPECT_TRUE(LabelSet{}.empty());
  EXPECT_EQ(text(s.merged(LabelSet{{"c", "4"}, {"a", "5"}})), "a=5;b=3;c=4;");
  EXPECT_EQ(text(LabelSet{}.merged(s)), "a=2;b=3;");
  LabelSet copy = s;
  EXPECT_EQ(copy.rep(), s.rep());  // a reference, not a copy of the strings
}

TEST(Labels, ScopesAddAndRestoreAndSpawnedGoroutinesInherit) {
  Runtime rt(Options{.procs = 2});
  rt.run([] {
    EXPECT_TRUE(goroutine_labels().empty());
    std::string child, grandchild, after;
    WaitGroup wg;
    with_labels(LabelSet{{"backend", "b1"}, {"route", "/x"}}, [&] {
      EXPECT_EQ(text(goroutine_labels()), "backend=b1;route=/x;");
      with_labels(LabelSet{{"backend", "b2"}}, [&] {
        EXPECT_EQ(text(goroutine_labels()), "backend=b2;route=/x;");
        wg.add(1);
        go([&] {
          child = text(goroutine_labels());
          wg.add(1);
          go([&] {
            grandchild = text(goroutine_labels());
            wg.done();
          });
          LabelScope mine(LabelSet{{"own", "1"}});
          wg.done();
        });
      });
      EXPECT_EQ(text(goroutine_labels()), "backend=b1;route=/x;");
    });
    wg.wait();
    EXPECT_EQ(child, "backend=b2;route=/x;");
    EXPECT_EQ(grandchild, "backend=b2;route=/x;");
    EXPECT_TRUE(goroutine_labels().empty());
    EXPECT_EQ(with_labels(LabelSet{{"k", "v"}}, [] { return 7; }), 7);
  });
}

}  // namespace
}  // namespace spindle::runtime
