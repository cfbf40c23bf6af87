#include "base/log.h"

#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "base/check.h"

namespace spindle::base::log {

namespace {

std::int64_t unix_now_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) return false;
  }
  return true;
}

// The length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlong forms, no
// surrogates, nothing past U+10FFFF); 0 if there is none.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  std::uint32_t cp = 0;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xC0) != 0x80) return 0;
    cp = cp << 6 | (d & 0x3F);
  }
  constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// The message as one text line: line breaks and other control characters escaped.
void append_text(std::string& out, std::string_view s) {
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
      fmt::format_to(std::back_inserter(out), "\\x{:02x}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
}

std::string render_line(const Options& o, Level level, std::string_view message,
                        std::int64_t unix_ns) {
  std::string cut;
  if (message.size() > o.max_line) {
    cut = fmt::format("{} [{} more bytes cut]", message.substr(0, o.max_line),
                      message.size() - o.max_line);
    message = cut;
  }
  std::string line;
  line.reserve(message.size() + o.program.size() + 64);
  if (o.format == Format::kJson) {
    line += "{\"time\":\"";
    line += rfc3339(unix_ns);
    line += "\",\"level\":\"";
    line += to_string(level);
    line += '"';
    if (!o.program.empty()) line += ",\"program\":" + json_quote(o.program);
    line += ",\"msg\":";
    line += json_quote(message);
    line += "}\n";
    return line;
  }
  line += rfc3339(unix_ns);
  line += ' ';
  line += to_string(level);
  line += ' ';
  if (!o.program.empty()) {
    append_text(line, o.program);
    line += ": ";
  }
  append_text(line, message);
  line += '\n';
  return line;
}

}  // namespace

const char* to_string(Level level) {
  switch (level) {
    case Level::kDebug:
      return "DEBUG";
    case Level::kInfo:
      return "INFO";
    case Level::kWarn:
      return "WARN";
    case Level::kError:
      return "ERROR";
  }
  return "UNKNOWN";
}

std::optional<Level> parse_level(std::string_view text) {
  if (equals_ignoring_case(text, "debug")) return Level::kDebug;
  if (equals_ignoring_case(text, "info")) return Level::kInfo;
  if (equals_ignoring_case(text, "warn") || equals_ignoring_case(text, "warning")) {
    return Level::kWarn;
  }
  if (equals_ignoring_case(text, "error")) return Level::kError;
  return std::nullopt;
}

std::optional<Format> parse_format(std::string_view text) {
  if (text == "text") return Format::kText;
  if (text == "json") return Format::kJson;
  return std::nullopt;
}

int write_all(int fd, std::string_view line) {
  while (!line.empty()) {
    const ssize_t n = ::write(fd, line.data(), line.size());
    if (n > 0) {
      line.remove_prefix(static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};  // a non-blocking output (someone's O_NONBLOCK stderr)
      (void)::poll(&p, 1, 1000);
    } else {
      return n < 0 ? errno : EIO;  // 0 bytes for a non-empty write: nothing more will go
    }
  }
  return 0;
}

std::string rfc3339(std::int64_t unix_ns) {
  std::int64_t secs = unix_ns / 1'000'000'000;
  std::int64_t rest = unix_ns % 1'000'000'000;
  if (rest < 0) rest += 1'000'000'000, --secs;  // before 1970: round down
  const auto t = static_cast<time_t>(secs);
  tm u{};
  gmtime_r(&t, &u);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", u.tm_year + 1900, u.tm_mon + 1,
                     u.tm_mday, u.tm_hour, u.tm_min, u.tm_sec, rest / 1000);
}

std::string json_quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    const char c = s[i];
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned char>(c));
    } else if (static_cast<unsigned char>(c) >= 0x80) {
      const std::size_t n = utf8_length(s, i);
      if (n == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    } else {
      out += c;
    }
    ++i;
  }
  out += '"';
  return out;
}

Logger::Logger(Options options)
    : options_(std::move(options)), level_(options_.level), thread_([this] { run(); }) {}

Logger::~Logger() { stop(); }

void Logger::log(Level level, std::string_view message) {
  if (!enabled(level)) return;
  std::string line = render_line(options_, level, message, unix_now_ns());
  {
    ThreadMutexLock lock(mu_);
    if (!stopping_) {
      if (queue_.size() >= options_.max_queued) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      queue_.push_back(std::move(line));
      ++queued_seq_;
      lock.unlock();
      wake_.notify_one();
      return;
    }
  }
  write_all(options_.fd, line);  // after stop(): nobody drains the queue any more
}

std::string Logger::format_line(Level level, std::string_view message, std::int64_t unix_ns) const {
  return render_line(options_, level, message, unix_ns);
}

void Logger::flush() {
  ThreadMutexLock lock(mu_);
  const std::uint64_t target = queued_seq_;
  while (written_seq_ < target && !stopped_) written_.wait(mu_);
}

void Logger::stop() {
  {
    ThreadMutexLock lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void Logger::run() {
  std::deque<std::string> batch;
  for (;;) {
    {
      ThreadMutexLock lock(mu_);
      while (queue_.empty() && !stopping_) wake_.wait(mu_);
      if (queue_.empty()) {  // and stopping
        stopped_ = true;
        lock.unlock();
        written_.notify_all();
        return;
      }
      batch.swap(queue_);
    }
    for (const std::string& line : batch) write_out(line);
    const std::uint64_t done = batch.size();
    batch.clear();
    // Drops happen only while the queue is full, so a batch always follows them.
    const std::uint64_t drops = dropped_.load(std::memory_order_relaxed);
    if (drops > reported_drops_) {
      write_out(format_line(Level::kWarn,
                            fmt::format("{} log lines dropped: the log output is slower than the "
                                        "events (dropped since start: {})",
                                        drops - reported_drops_, drops),
                            unix_now_ns()));
      reported_drops_ = drops;
    }
    {
      ThreadMutexLock lock(mu_);
      written_seq_ += done;
    }
    written_.notify_all();
  }
}

void Logger::write_out(std::string_view line) const { write_all(options_.fd, line); }

namespace {

std::atomic<Logger*> g_logger{nullptr};
std::atomic<Level> g_level{Level::kInfo};

}  // namespace

void start(Options options) {
  g_level.store(options.level, std::memory_order_relaxed);
  // Never freed: a thread may still log while the program exits (after stop(), it writes the
  // line itself).
  auto* logger = new Logger(std::move(options));
  Logger* before = g_logger.exchange(logger, std::memory_order_acq_rel);
  SPINDLE_CHECK(before == nullptr, "log::start called twice");
}

void stop() {
  if (Logger* l = g_logger.load(std::memory_order_acquire)) l->stop();
}

bool enabled(Level level) { return level >= g_level.load(std::memory_order_relaxed); }

void write(Level level, std::string_view message) {
  if (Logger* l = g_logger.load(std::memory_order_acquire)) {
    l->log(level, message);
    return;
  }
  if (!enabled(level)) return;
  write_all(2, render_line(Options{}, level, message, unix_now_ns()));
}

std::uint64_t dropped() {
  Logger* l = g_logger.load(std::memory_order_acquire);
  return l != nullptr ? l->dropped() : 0;
}

}  // namespace spindle::base::log
