// ResultsWriter: every request's outcome as one CSV line (--results FILE), written as the
// requests end, for analysis outside spindle-load (vegeta's `attack | encode --to csv`, in
// columns of its own). The report's histograms say how late and how slow; this file says
// which request and when: a lateness episode, the requests around a server's stall.
//
// Columns (the first line names them):
//   timestamp     scheduled send time, Unix ns
//   offered_rate  the step's rate, req/s (a ramp's steps tell apart by it)
//   method, url   the request
//   status        0 when no response came
//   latency_ns    scheduled time to the end of the response (or the error), as in the report
//   send_lag_ns   scheduled time to when the request actually started
//   bytes_out, bytes_in
//   waited        1 if the request found every connection busy and waited for one
//   error         empty on success; quoted as RFC 4180 says when it holds , " or a line break
// Lines are in the order requests end, not in schedule order.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"
#include "base/thread_annotations.h"
#include "loadgen/step_result.h"
#include "loadgen/target.h"
#include "runtime/sync/mutex.h"

namespace spindle::loadgen {

class ResultsWriter {
 public:
  static constexpr std::string_view kHeader =
      "timestamp,offered_rate,method,url,status,latency_ns,send_lag_ns,bytes_out,bytes_in,"
      "waited,error\n";

  // Creates (or truncates) the file and writes the header. The error names the file and why.
  static base::Result<std::unique_ptr<ResultsWriter>, std::string> create(const std::string& path);
  ~ResultsWriter();

  // One request's line. From any goroutine. After a failed write the rest is dropped, and
  // close() reports it.
  void add(const Outcome& o, const Target& t, double offered_rate);
  // Writes what is buffered and closes the file: the first error ("PATH: why"), if any. After
  // every add() has returned.
  base::Result<void, std::string> close();

  // One line, without the clock's conversion: `timestamp_ns` is the scheduled time already
  // in Unix ns. For tests.
  static std::string line(const Outcome& o, const Target& t, double offered_rate,
                          std::int64_t timestamp_ns);

 private:
  ResultsWriter(int fd, std::string path, std::int64_t unix_minus_steady_ns);

  runtime::Mutex mu_;
  int fd_ GUARDED_BY(mu_);
  const std::string path_;
  const std::int64_t unix_minus_steady_ns_;  // Outcome's times are on the steady clock
  std::string buf_ GUARDED_BY(mu_);
  bool writing_ GUARDED_BY(mu_) = false;  // an add() is writing a chunk, outside the lock
  std::string error_ GUARDED_BY(mu_);
};

}  // namespace spindle::loadgen
