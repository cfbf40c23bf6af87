#include "lb/access_log.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <utility>

#include "base/log.h"
#include "http/chars.h"

namespace spindle::lb {

std::optional<AccessLogFormat> parse_access_log_format(std::string_view text) {
  if (text == "json") return AccessLogFormat::kJson;
  if (text == "combined") return AccessLogFormat::kCombined;
  return std::nullopt;
}

namespace {

double seconds(std::int64_t ns) { return static_cast<double>(ns) / 1e9; }

// nginx's escaping in its text logs: '"', '\' and bytes outside visible ASCII as \xHH.
void append_escaped(std::string& out, std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
      fmt::format_to(std::back_inserter(out), "\\x{:02X}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
}

// "-" for an empty value, as nginx writes.
void append_field(std::string& out, std::string_view s) {
  if (s.empty()) {
    out += '-';
  } else {
    append_escaped(out, s);
  }
}

// nginx's $time_local, in UTC: "04/Dec/2026:10:07:37 +0000".
std::string time_local(std::int64_t unix_ns) {
  const std::time_t secs = static_cast<std::time_t>(unix_ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof buf, "%d/%b/%Y:%H:%M:%S +0000", &tm);
  return std::string(buf, n);
}

// The client part of "IP:PORT" ("[::1]:80" gives "::1").
std::string_view client_ip(std::string_view client) {
  const std::size_t colon = client.rfind(':');
  std::string_view ip = colon == std::string_view::npos ? client : client.substr(0, colon);
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  return ip;
}

std::string json_line(const AccessRecord& r) {
  using base::log::json_quote;
  std::string line = fmt::format(
      "{{\"time\":\"{}\",\"client\":{},\"method\":{},\"target\":{},\"status\":{},"
      "\"bytes_in\":{},\"bytes_out\":{},\"backend\":{},\"backend_url\":{},",
      base::log::rfc3339(r.unix_ns), json_quote(r.client), json_quote(r.method),
      json_quote(r.target), r.status, r.bytes_in, r.bytes_out, json_quote(r.backend),
      json_quote(r.backend_url));
  if (r.upstream_ns >= 0) {
    fmt::format_to(std::back_inserter(line), "\"upstream_seconds\":{:.6f},",
                   seconds(r.upstream_ns));
  } else {
    line += "\"upstream_seconds\":null,";
  }
  fmt::format_to(std::back_inserter(line),
                 "\"total_seconds\":{:.6f},\"retries\":{},\"failovers\":{},\"request_id\":{}}}\n",
                 seconds(r.total_ns), r.retries, r.failovers, json_quote(r.request_id));
  return line;
}

// nginx's combined layout, then the fields it lacks as key=value:
//   IP - - [TIME] "METHOD TARGET HTTP/1.x" STATUS BYTES_OUT "REFERER" "USER_AGENT"
//   rt=TOTAL urt=UPSTREAM backend="NAME" upstream="URL" bytes_in=N retries=N failovers=N
//   rid="ID"
std::string combined_line(const AccessRecord& r) {
  std::string line;
  append_field(line, client_ip(r.client));
  line += " - - [" + time_local(r.unix_ns) + "] \"";
  append_escaped(line, r.method);
  line += ' ';
  append_escaped(line, r.target);
  fmt::format_to(std::back_inserter(line), " HTTP/1.{}\" {} {} \"", r.version_minor, r.status,
                 r.bytes_out);
  append_field(line, r.referer);
  line += "\" \"";
  append_field(line, r.user_agent);
  fmt::format_to(std::back_inserter(line), "\" rt={:.6f} urt=", seconds(r.total_ns));
  if (r.upstream_ns >= 0) {
    fmt::format_to(std::back_inserter(line), "{:.6f}", seconds(r.upstream_ns));
  } else {
    line += '-';
  }
  line += " backend=\"";
  append_field(line, r.backend);
  line += "\" upstream=\"";
  append_field(line, r.backend_url);
  fmt::format_to(std::back_inserter(line), "\" bytes_in={} retries={} failovers={} rid=\"",
                 r.bytes_in, r.retries, r.failovers);
  append_field(line, r.request_id);
  line += "\"\n";
  return line;
}

}  // namespace

std::string format_access_line(AccessLogFormat format, const AccessRecord& r) {
  return format == AccessLogFormat::kJson ? json_line(r) : combined_line(r);
}

std::string_view client_request_id(const http::HeaderList& fields) {
  if (fields.count(kRequestIdField) != 1) return {};
  const std::string_view id = fields.find(kRequestIdField)->value;
  if (id.empty() || id.size() > kMaxRequestIdLength) return {};
  for (unsigned char c : id) {
    if (c < 0x21 || c > 0x7e) return {};
  }
  return id;
}

namespace {

std::uint64_t random_prefix() {
  std::uint64_t v = 0;
  if (getrandom(&v, sizeof v, 0) != static_cast<ssize_t>(sizeof v)) {
    v = static_cast<std::uint64_t>(time(nullptr)) * 0x9E3779B97F4A7C15ULL ^
        static_cast<std::uint64_t>(getpid());
  }
  return v;
}

// Each thread takes counter values from the shared one in blocks, so ids cost no shared write
// per call. The block is used up before the goroutine can move: nothing parks in between.
constexpr std::uint64_t kIdBlock = 4096;
std::atomic<std::uint64_t> next_id_block{0};

}  // namespace

std::string new_request_id() {
  static const std::uint64_t prefix = random_prefix();
  thread_local std::uint64_t next = 0, end = 0;
  if (next == end) {
    next = next_id_block.fetch_add(kIdBlock, std::memory_order_relaxed);
    end = next + kIdBlock;
  }
  return fmt::format("{:016x}{:016x}", prefix, next++);
}

namespace {

base::Result<int, std::string> open_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return path + ": " + std::strerror(errno);
  return fd;
}

}  // namespace

base::Result<std::unique_ptr<AccessLog>, std::string> AccessLog::open(AccessLogOptions options) {
  int fd = options.fd;
  if (fd < 0 && options.path == "-") fd = STDOUT_FILENO;
  if (fd < 0) {
    auto opened = open_path(options.path);
    if (!opened) return "--access-log " + opened.error();
    fd = *opened;
  }
  return std::unique_ptr<AccessLog>(new AccessLog(std::move(options), fd));
}

AccessLog::AccessLog(AccessLogOptions options, int fd)
    : options_(std::move(options)),
      fd_(fd),
      owns_fd_(options_.fd < 0 && fd != STDOUT_FILENO),
      thread_([this] { run(); }) {}

AccessLog::~AccessLog() {
  stop();
  if (owns_fd_) ::close(fd_);
}

void AccessLog::append(std::string line) {
  {
    base::ThreadMutexLock lock(mu_);
    if (!stopping_ && queue_.size() + line.size() <= options_.max_queued_bytes) {
      const std::size_t before = queue_.size();
      if (queue_.empty()) {
        queue_ = std::move(line);
      } else {
        queue_ += line;
      }
      ++queued_seq_;
      // The writer waits untimed for a first line, then timed while a batch gathers: wake it
      // for the first line and once the batch is full, not for every line in between.
      const bool wake =
          before == 0 || (before < options_.gather_bytes && queue_.size() >= options_.gather_bytes);
      lock.unlock();
      if (wake) wake_.notify_one();
      return;
    }
  }
  dropped_.fetch_add(1, std::memory_order_relaxed);
}

void AccessLog::reopen() {
  {
    base::ThreadMutexLock lock(mu_);
    reopen_ = true;
  }
  wake_.notify_one();
}

void AccessLog::flush() {
  base::ThreadMutexLock lock(mu_);
  const std::uint64_t target = queued_seq_;
  if (written_seq_ >= target) return;
  flushing_ = true;
  wake_.notify_one();
  while (written_seq_ < target) written_.wait(mu_);
}

void AccessLog::stop() {
  {
    base::ThreadMutexLock lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void AccessLog::run() {
  std::string batch;
  for (;;) {
    bool reopen = false, stopping = false;
    std::uint64_t seq = 0;
    {
      base::ThreadMutexLock lock(mu_);
      while (queue_.empty() && !reopen_ && !stopping_) wake_.wait(mu_);
      // A batch gathers: more lines come with no wake-up until it is full or old enough.
      const auto deadline = std::chrono::steady_clock::now() + options_.gather;
      while (!queue_.empty() && queue_.size() < options_.gather_bytes && !reopen_ && !stopping_ &&
             !flushing_ && wake_.wait_until(mu_, deadline) != std::cv_status::timeout) {
      }
      flushing_ = false;
      batch.clear();
      batch.swap(queue_);
      seq = queued_seq_;
      reopen = std::exchange(reopen_, false);
      stopping = stopping_;
    }
    if (reopen) reopen_now();
    base::log::write_all(fd_, batch);
    {
      base::ThreadMutexLock lock(mu_);
      written_seq_ = seq;
    }
    written_.notify_all();
    const std::uint64_t drops = dropped();
    if (drops != reported_drops_) {
      base::log::warn("access log: {} lines dropped (the output was slower than the requests)",
                      drops - reported_drops_);
      reported_drops_ = drops;
    }
    if (stopping) {
      base::ThreadMutexLock lock(mu_);
      if (queue_.empty()) return;
    }
  }
}

void AccessLog::reopen_now() {
  if (!owns_fd_) return;
  auto opened = open_path(options_.path);
  if (!opened) {
    base::log::error("access log: cannot reopen {}; still writing to the old file", opened.error());
    return;
  }
  ::close(fd_);
  fd_ = *opened;
  base::log::info("access log reopened: {}", options_.path);
}

}  // namespace spindle::lb
