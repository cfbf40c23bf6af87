// ResultsWriter: the CSV line's columns and quoting, the file written whole across flushes,
// and failures named (a file that cannot be created, a disk that is full).
#include "loadgen/results.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace spindle::loadgen {
namespace {

Target example_target() {
  Target t;
  t.method = "POST";
  t.address = t.host = "127.0.0.1:8080";
  t.path = "/a?b=1";
  return t;
}

Outcome example_outcome() {
  Outcome o;
  o.scheduled_ns = 1'000'000;
  o.sent_ns = 1'250'000;
  o.end_ns = 4'000'000;
  o.status = 200;
  o.bytes_out = 12;
  o.bytes_in = 345;
  return o;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string temp_path(const char* name) {
  return ::testing::TempDir() + "/results_test_" + std::to_string(getpid()) + "_" + name;
}

TEST(ResultsLine, ColumnsInTheHeadersOrder) {
  EXPECT_EQ(ResultsWriter::line(example_outcome(), example_target(), 2000, 1733400000123456789),
            "1733400000123456789,2000,POST,http://127.0.0.1:8080/a?b=1,200,3000000,250000,12,345,"
            "0,\n");
  Outcome waited = example_outcome();
  waited.waited_for_connection = true;
  waited.status = 0;
  waited.error = "timeout";
  EXPECT_EQ(ResultsWriter::line(waited, example_target(), 1500.5, 7),
            "7,1500.5,POST,http://127.0.0.1:8080/a?b=1,0,3000000,250000,12,345,1,timeout\n");
}

TEST(ResultsLine, FieldsWithCommasQuotesOrLineBreaksAreQuoted) {
  Outcome o = example_outcome();
  o.error = "dial 1.2.3.4:80: \"refused\", twice\nagain";
  Target t = example_target();
  t.path = "/x,y";
  EXPECT_EQ(ResultsWriter::line(o, t, 10, 1),
            "1,10,POST,\"http://127.0.0.1:8080/x,y\",200,3000000,250000,12,345,0,"
            "\"dial 1.2.3.4:80: \"\"refused\"\", twice\nagain\"\n");
}

TEST(ResultsWriter, WritesTheHeaderAndEveryLineAcrossFlushes) {
  const std::string path = temp_path("many");
  auto w = ResultsWriter::create(path);
  ASSERT_TRUE(w) << w.error();
  constexpr int kLines = 5000;  // ~400 KB: several flushes
  for (int i = 0; i < kLines; ++i) {
    Outcome o = example_outcome();
    o.bytes_in = static_cast<std::uint64_t>(i);
    (*w)->add(o, example_target(), 100);
  }
  ASSERT_TRUE((*w)->close());
  std::string text = read_all(path);
  ASSERT_TRUE(text.starts_with(ResultsWriter::kHeader));
  std::vector<std::string> lines;
  std::istringstream in(text.substr(ResultsWriter::kHeader.size()));
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(kLines));
  for (int i : {0, 1, kLines / 2, kLines - 1}) {
    EXPECT_NE(lines[i].find(",12," + std::to_string(i) + ",0,"), std::string::npos) << lines[i];
  }
  // The timestamp is Unix time: after 2020 and before 2100.
  long long ts = std::stoll(lines[0].substr(0, lines[0].find(',')));
  EXPECT_GT(ts, 1'577'836'800LL * 1'000'000'000);
  EXPECT_LT(ts, 4'102'444'800LL * 1'000'000'000);
  unlink(path.c_str());
}

TEST(ResultsWriter, AFileThatCannotBeCreatedIsNamed) {
  auto w = ResultsWriter::create("/nonexistent-dir/results.csv");
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error(), "/nonexistent-dir/results.csv: No such file or directory");
}

TEST(ResultsWriter, AFullDiskIsReportedOnClose) {
  auto w = ResultsWriter::create("/dev/full");
  ASSERT_TRUE(w) << w.error();
  for (int i = 0; i < 3; ++i) (*w)->add(example_outcome(), example_target(), 1);
  auto closed = (*w)->close();
  ASSERT_FALSE(closed);
  EXPECT_EQ(closed.error(), "/dev/full: No space left on device");
  EXPECT_FALSE((*w)->close());  // and stays reported
}

}  // namespace
}  // namespace spindle::loadgen
