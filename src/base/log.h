// The event log: one line per event, with an RFC 3339 timestamp (UTC) and a level, as text or
// JSON. A caller formats its line (libfmt) and queues it; a plain thread writes the queue out,
// so a slow or stuck stderr never blocks a scheduler thread. When the queue is full the line
// is dropped and counted, and the log says how many were dropped once it catches up.
//
//   text: 2026-12-04T10:07:37.123456Z INFO spindle-lb: backend http://127.0.0.1:9001 added
//   json: {"time":"2026-12-04T10:07:37.123456Z","level":"INFO","program":"spindle-lb",
//          "msg":"backend http://127.0.0.1:9001 added"}
//
// Fatal errors (base/check.h) bypass it: they write to stderr themselves and abort.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "base/thread_annotations.h"
#include "base/thread_mutex.h"

namespace spindle::base::log {

enum class Level { kDebug, kInfo, kWarn, kError };
// "DEBUG", "INFO", "WARN", "ERROR": what lines carry.
const char* to_string(Level level);
// "debug", "info", "warn" (or "warning"), "error", in any case; nullopt otherwise.
std::optional<Level> parse_level(std::string_view text);

enum class Format { kText, kJson };
// "text" or "json"; nullopt otherwise.
std::optional<Format> parse_format(std::string_view text);

struct Options {
  std::string program;  // in every line ("spindle-lb"); may be empty
  Level level = Level::kInfo;
  Format format = Format::kText;
  int fd = 2;                     // where lines go; not closed
  std::size_t max_queued = 4096;  // lines waiting to be written; more are dropped
  std::size_t max_line = 16384;   // longer messages are cut (and say so)
};

// A log writer: a bounded queue and the thread that drains it. Any thread may log; log() never
// waits for the output, only (briefly) for the queue's lock, which the writer holds to take
// the queue, never while it writes.
class Logger {
 public:
  explicit Logger(Options options);
  // stop().
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  bool enabled(Level level) const { return level >= level_; }
  // Queues one line (nothing if the level is below the logger's). Never blocks on the output.
  void log(Level level, std::string_view message);
  // Parks the calling thread until every line queued before the call is written (or its write
  // failed). For tests and exit; not from a scheduler thread.
  void flush();
  // Writes out what was queued and stops the thread; later lines are written at once by the
  // thread that logs them. Idempotent.
  void stop();
  // Lines dropped because the queue was full.
  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

  // The line log() would queue for `message` at wall-clock time `unix_ns` (ns since the epoch).
  std::string format_line(Level level, std::string_view message, std::int64_t unix_ns) const;

 private:
  void run();
  // write(2) until all of it is out (or the output fails): parks the writer thread, never a
  // caller of log() (except after stop()).
  void write_out(std::string_view line) const;

  const Options options_;
  const Level level_;
  ThreadMutex mu_;
  std::condition_variable_any wake_;     // for the writer: lines queued, or stop
  std::condition_variable_any written_;  // for flush(): the writer finished a batch
  std::deque<std::string> queue_ GUARDED_BY(mu_);
  std::uint64_t queued_seq_ GUARDED_BY(mu_) = 0;   // lines queued so far
  std::uint64_t written_seq_ GUARDED_BY(mu_) = 0;  // lines the writer is done with
  bool stopping_ GUARDED_BY(mu_) = false;
  bool stopped_ GUARDED_BY(mu_) = false;
  std::atomic<std::uint64_t> dropped_{0};
  std::uint64_t reported_drops_ = 0;  // the writer's own
  std::thread thread_;
};

// RFC 3339 in UTC with microseconds: "2026-12-04T10:07:37.123456Z".
std::string rfc3339(std::int64_t unix_ns);
// write(2) until all of `line` is out, polling a non-blocking fd; gives up when the output is
// gone (EPIPE, EBADF, ENOSPC, ...) and returns that errno (0 when all is out). Blocks the
// calling thread: for writer threads, or a goroutine's runtime::blocking call.
int write_all(int fd, std::string_view line);
// `s` as a JSON string, quotes included; bytes that are not UTF-8 become U+FFFD.
std::string json_quote(std::string_view s);

// The process' log. Until start(), lines are written at once to stderr (text, level info),
// which suits start-up and tests; after it, through a Logger. Call start() early in main, and
// stop() before returning (it writes out what is queued).
void start(Options options);
void stop();
bool enabled(Level level);
void write(Level level, std::string_view message);
std::uint64_t dropped();

template <class... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::kDebug)) write(Level::kDebug, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::kInfo)) write(Level::kInfo, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::kWarn)) write(Level::kWarn, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::kError)) write(Level::kError, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace spindle::base::log
