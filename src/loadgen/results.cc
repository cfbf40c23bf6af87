#include "loadgen/results.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "base/check.h"
#include "base/log.h"
#include "base/time.h"
#include "runtime/blocking.h"
#include "runtime/runtime.h"

namespace spindle::loadgen {

namespace {

// Written out once this much is buffered: a write per ~600 requests, so at tens of thousands
// of requests per second the file costs a system call every few milliseconds, not per request.
constexpr std::size_t kFlushBytes = 64 * 1024;

// RFC 4180: a field holding a comma, a quote or a line break is quoted, its quotes doubled.
void append_field(std::string& out, std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += s;
    return;
  }
  out += '"';
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

// Writes `data` whole: "" or "PATH: why". On a goroutine, as a blocking call: a write the
// disk holds up (page cache writeback, a journal commit) then holds up only this goroutine,
// while its processor goes on sending requests on another thread.
std::string write_out(int fd, const std::string& path, std::string_view data) {
  auto write = [&] { return base::log::write_all(fd, data); };
  const int err = runtime::in_goroutine() ? runtime::blocking(write) : write();
  return err == 0 ? "" : path + ": " + std::strerror(err);
}

}  // namespace

base::Result<std::unique_ptr<ResultsWriter>, std::string> ResultsWriter::create(
    const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return path + ": " + std::strerror(errno);
  const std::int64_t offset = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count() -
                              base::to_ns(base::Clock::now());
  std::unique_ptr<ResultsWriter> w(new ResultsWriter(fd, path, offset));
  runtime::MutexLock lock(w->mu_);
  w->buf_ = kHeader;
  return w;
}

ResultsWriter::ResultsWriter(int fd, std::string path, std::int64_t unix_minus_steady_ns)
    : fd_(fd), path_(std::move(path)), unix_minus_steady_ns_(unix_minus_steady_ns) {}

ResultsWriter::~ResultsWriter() { (void)close(); }

std::string ResultsWriter::line(const Outcome& o, const Target& t, double offered_rate,
                                std::int64_t timestamp_ns) {
  char nums[160];
  std::string s = std::to_string(timestamp_ns);
  std::snprintf(nums, sizeof nums, ",%.10g,", offered_rate);
  s += nums;
  append_field(s, t.method);
  s += ',';
  append_field(s, "http://" + t.host + t.path);
  std::snprintf(nums, sizeof nums, ",%d,%lld,%lld,%llu,%llu,%d,", o.status,
                static_cast<long long>(o.end_ns - o.scheduled_ns),
                static_cast<long long>(o.sent_ns - o.scheduled_ns),
                static_cast<unsigned long long>(o.bytes_out),
                static_cast<unsigned long long>(o.bytes_in), o.waited_for_connection ? 1 : 0);
  s += nums;
  append_field(s, o.error);
  s += '\n';
  return s;
}

void ResultsWriter::add(const Outcome& o, const Target& t, double offered_rate) {
  std::string l = line(o, t, offered_rate, o.scheduled_ns + unix_minus_steady_ns_);
  std::string chunk;
  int fd;
  {
    runtime::MutexLock lock(mu_);
    if (fd_ < 0 || !error_.empty()) return;
    buf_ += l;
    // One writer at a time keeps the chunks in order; meanwhile the others append.
    if (buf_.size() < kFlushBytes || writing_) return;
    writing_ = true;
    chunk.swap(buf_);
    fd = fd_;
  }
  std::string error = write_out(fd, path_, chunk);
  runtime::MutexLock lock(mu_);
  writing_ = false;
  if (!error.empty() && error_.empty()) {
    error_ = std::move(error);
    buf_.clear();
  }
}

base::Result<void, std::string> ResultsWriter::close() {
  runtime::MutexLock lock(mu_);
  if (fd_ >= 0) {
    SPINDLE_CHECK(!writing_, "ResultsWriter::close while an add() is writing");
    if (error_.empty()) error_ = write_out(fd_, path_, buf_);
    buf_.clear();
    if (::close(fd_) != 0 && error_.empty()) error_ = path_ + ": " + std::strerror(errno);
    fd_ = -1;
  }
  if (!error_.empty()) return error_;
  return {};
}

}  // namespace spindle::loadgen
