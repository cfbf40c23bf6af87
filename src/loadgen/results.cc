#include "loadgen/results.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "base/time.h"

namespace spindle::loadgen {

namespace {

// Written out once this much is buffered: a write per ~600 requests, so at tens of thousands
// of requests per second the file costs a system call every few milliseconds, not per request.
constexpr std::size_t kFlushBytes = 64 * 1024;

std::int64_t ns_since_epoch(auto now) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
}

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

}  // namespace

base::Result<std::unique_ptr<ResultsWriter>, std::string> ResultsWriter::create(
    const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return path + ": " + std::strerror(errno);
  const std::int64_t offset =
      ns_since_epoch(std::chrono::system_clock::now()) - ns_since_epoch(base::Clock::now());
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
  runtime::MutexLock lock(mu_);
  if (fd_ < 0 || !error_.empty()) return;
  buf_ += l;
  if (buf_.size() >= kFlushBytes) flush();
}

void ResultsWriter::flush() {
  std::size_t done = 0;
  while (done < buf_.size() && error_.empty()) {
    ssize_t n = ::write(fd_, buf_.data() + done, buf_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_ = path_ + ": " + (n < 0 ? std::strerror(errno) : "write wrote nothing");
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  buf_.clear();
}

base::Result<void, std::string> ResultsWriter::close() {
  runtime::MutexLock lock(mu_);
  if (fd_ < 0) return error_.empty() ? base::Result<void, std::string>() : error_;
  if (error_.empty()) flush();
  if (::close(fd_) != 0 && error_.empty()) error_ = path_ + ": " + std::strerror(errno);
  fd_ = -1;
  if (!error_.empty()) return error_;
  return {};
}

}  // namespace spindle::loadgen
