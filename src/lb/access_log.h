// The access log: one line per proxied request (--access-log, --access-log-format), and the
// request ids it carries (X-Request-Id). The request goroutine formats its line and appends it
// to a bounded queue; a plain thread of the log's own does the write(2), so a slow disk or a
// stuck pipe never blocks a scheduler thread: when the queue is full the line is dropped and
// counted. reopen() (spindle-lb calls it on SIGHUP) makes the writer open the path again, for
// logrotate. Formats: docs/lb-reference.md, "Access log".
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "base/result.h"
#include "base/thread_annotations.h"
#include "base/thread_mutex.h"
#include "http/fields.h"

namespace spindle::lb {

enum class AccessLogFormat { kJson, kCombined };
// "json" or "combined"; nullopt otherwise.
std::optional<AccessLogFormat> parse_access_log_format(std::string_view text);

// What the log says about one request.
struct AccessRecord {
  std::int64_t unix_ns = 0;     // when the request head was read (wall clock)
  std::string_view client;      // "IP:PORT"
  std::string_view method;      // the token as sent
  std::string_view target;      // as sent
  int version_minor = 1;        // HTTP/1.x
  int status = 0;               // answered; 499: the client left before any answer
  std::uint64_t bytes_in = 0;   // request body bytes read
  std::uint64_t bytes_out = 0;  // response body bytes written
  std::string_view backend;     // the last backend tried ("" if none): name, or its URL
  std::string_view backend_url;
  std::int64_t upstream_ns = -1;  // last attempt: sent until its response head; -1: none
  std::int64_t total_ns = 0;      // head read until the response ended
  std::uint32_t retries = 0, failovers = 0;
  std::string_view request_id;
  std::string_view referer, user_agent;  // for the combined format
};

// The line (with its newline) for `r`.
std::string format_access_line(AccessLogFormat format, const AccessRecord& r);

// X-Request-Id. A client's value is taken when it is one field of 1 to kMaxRequestIdLength
// visible ASCII characters; otherwise the proxy makes one.
inline constexpr std::size_t kMaxRequestIdLength = 128;
inline constexpr std::string_view kRequestIdField = "X-Request-Id";
// The client's well-formed id, or "" .
std::string_view client_request_id(const http::HeaderList& fields);
// A fresh id, unique in the process and unlikely to repeat across processes: 32 hex digits,
// a random prefix drawn at start and a counter. Any thread; no lock, no shared write per call.
std::string new_request_id();

struct AccessLogOptions {
  std::string path;  // "-": standard output (not reopened)
  AccessLogFormat format = AccessLogFormat::kJson;
  std::size_t max_queued_bytes = 4 << 20;  // lines waiting to be written; more are dropped
  int fd = -1;                             // for tests: write here instead of opening path
  // The writer gathers lines into one write for up to `gather` after the first, or until
  // `gather_bytes` wait: one wake-up and one write(2) per batch, not per request (nginx's
  // access_log buffer= and flush=, kept short).
  std::chrono::milliseconds gather{50};
  std::size_t gather_bytes = 64 << 10;
};

class AccessLog {
 public:
  // Opens the path (created 0644, appended to) and starts the writer; the error for main().
  static base::Result<std::unique_ptr<AccessLog>, std::string> open(AccessLogOptions options);
  // stop().
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  AccessLogFormat format() const { return options_.format; }
  // Queues one line; never waits for the output, only briefly for the queue's lock (the
  // writer holds it to take the queue, never while it writes). Dropped and counted when full.
  // Wakes the writer only for the first line of a batch and when a batch is full.
  void append(std::string line);
  // The writer opens the path again before its next write (the old file is closed). Any
  // thread; a failure to open is logged and the old file kept.
  void reopen();
  // Parks the calling thread until every line appended before the call is written (without
  // waiting for the batch to gather). For tests and exit; not from a scheduler thread.
  void flush();
  // Writes out what is queued and stops the writer. Idempotent.
  void stop();
  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  AccessLog(AccessLogOptions options, int fd);
  void run();
  void reopen_now();
  void write_out(std::string_view text);

  const AccessLogOptions options_;
  int fd_;  // the writer's; owned unless options_.fd or stdout
  bool owns_fd_;
  base::ThreadMutex mu_;
  std::condition_variable_any wake_;     // for the writer: lines queued, reopen, or stop
  std::condition_variable_any written_;  // for flush(): the writer finished a batch
  std::string queue_ GUARDED_BY(mu_);
  std::uint64_t queued_seq_ GUARDED_BY(mu_) = 0;
  std::uint64_t written_seq_ GUARDED_BY(mu_) = 0;
  bool reopen_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  bool flushing_ GUARDED_BY(mu_) = false;  // flush() waits: write without gathering
  std::atomic<std::uint64_t> dropped_{0};
  std::uint64_t reported_drops_ = 0;  // the writer's own
  std::thread thread_;
};

}  // namespace spindle::lb
