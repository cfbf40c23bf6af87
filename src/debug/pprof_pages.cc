// The /debug/pprof/ profile pages (pprof_pages.h), after Go's net/http/pprof.
#include "debug/pprof_pages.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "debug/pages.h"
#include "debug/symbolize.h"
#include "runtime/blocking.h"
#include "runtime/time.h"

namespace spindle::debug {
namespace {

using namespace std::chrono_literals;

const http::Header kTextNoSniff[] = {{"Content-Type", "text/plain; charset=utf-8"},
                                     {"X-Content-Type-Options", "nosniff"}};

// A non-negative integer query value, or `fallback` when absent or malformed (Go's pages
// fall back the same way).
int64_t query_int(std::string_view target, std::string_view key, int64_t fallback) {
  const std::optional<std::string_view> v = query_value(query_of(target), key);
  if (!v) return fallback;
  int64_t n = 0;
  const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  return ec == std::errc() && end == v->data() + v->size() && n >= 0 ? n : fallback;
}

int64_t unix_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void serve_cpu_profile(http::Request& req, http::ResponseWriter& w) {
  int64_t seconds = query_int(req.target(), "seconds", 30);
  if (seconds <= 0) seconds = 30;
  std::unique_ptr<runtime::CpuProfiler> prof = runtime::CpuProfiler::start();
  if (prof == nullptr) {
    (void)w.reply(409, "Could not enable CPU profiling: a CPU profile is already in progress\n",
                  kTextNoSniff);
    return;
  }
  const int64_t start_unix = unix_now_ns();
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::seconds(seconds);
  http::Cancel& gone = req.disconnect();
  gone.arm();  // watch the client: a profile nobody waits for stops early
  for (auto now = start; now < end && !gone.canceled(); now = std::chrono::steady_clock::now()) {
    runtime::sleep_for(std::min<std::chrono::nanoseconds>(100ms, end - now));
    prof->collect();
  }
  const std::vector<runtime::CpuSample> samples = prof->stop();
  const int64_t duration =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count();
  if (gone.canceled()) return;
  const Profile p = cpu_profile(samples, prof->hz(), start_unix, duration, prof->lost());
  const std::string body = runtime::blocking([&] { return encode_profile(p); });
  reply_profile(w, body, "profile");
}

void serve_wait_profile(WaitProfileKind kind, http::Request& req, http::ResponseWriter& w) {
  const std::vector<runtime::WaitRecord> records =
      kind == WaitProfileKind::kBlock ? runtime::block_profile() : runtime::mutex_profile();
  if (query_int(req.target(), "debug", 0) > 0) {
    const std::string text = runtime::blocking([&] { return wait_profile_text(kind, records); });
    (void)w.reply(200, text, kTextNoSniff);
    return;
  }
  const Profile p = wait_profile(kind, records);
  const std::string body = runtime::blocking([&] { return encode_profile(p); });
  reply_profile(w, body, kind == WaitProfileKind::kBlock ? "block" : "mutex");
}

// Go's /debug/pprof/symbol: the addresses come as the POST body or the query, joined by '+'.
void serve_symbol(http::Request& req, http::ResponseWriter& w) {
  constexpr size_t kMaxInput = 1 << 20;
  std::string input;
  if (req.method() == http::Method::kPost) {
    for (;;) {
      http::Result<std::string_view> chunk = req.body().next();
      if (!chunk) return;  // the connection failed: nobody to answer
      if (chunk->empty()) break;
      if (input.size() + chunk->size() > kMaxInput) {
        (void)w.reply(413, "at most 1 MiB of addresses\n", kTextNoSniff);
        return;
      }
      input.append(*chunk);
    }
  } else {
    const size_t q = req.target().find('?');
    if (q != std::string_view::npos) input = req.target().substr(q + 1);
  }
  std::vector<uintptr_t> pcs;
  for (size_t pos = 0; pos <= input.size();) {
    size_t plus = input.find('+', pos);
    if (plus == std::string::npos) plus = input.size();
    const std::string word = input.substr(pos, plus - pos);
    const uintptr_t pc = std::strtoull(word.c_str(), nullptr, 0);  // Go's ParseUint(_, 0, 64)
    if (pc != 0) pcs.push_back(pc);
    pos = plus + 1;
  }
  // pprof only asks whether the count is 0 (no symbols) or not, as Go's page says.
  std::string out = "num_symbols: 1\n";
  const std::vector<Frame> frames = runtime::blocking([&] { return symbolize(pcs); });
  char buf[32];
  for (const Frame& f : frames) {
    if (f.function.empty()) continue;
    std::snprintf(buf, sizeof buf, "%#" PRIxPTR " ", f.pc);
    out += buf + function_without_parameters(f.function) + "\n";
  }
  (void)w.reply(200, out, kTextNoSniff);
}

}  // namespace

void reply_profile(http::ResponseWriter& w, const std::string& body, const char* name) {
  const std::string disposition = std::string("attachment; filename=\"") + name + "\"";
  (void)w.reply(200, body,
                {{"Content-Type", "application/octet-stream"},
                 {"Content-Disposition", disposition},
                 {"X-Content-Type-Options", "nosniff"}});
}

Profile cpu_profile(const std::vector<runtime::CpuSample>& samples, int hz, int64_t start_unix_ns,
                    int64_t duration_ns, uint64_t lost) {
  Profile p;
  p.sample_types = {{"samples", "count"}, {"cpu", "nanoseconds"}};
  p.period_type = {"cpu", "nanoseconds"};
  p.period = 1'000'000'000 / hz;
  p.time_nanos = start_unix_ns;
  p.duration_nanos = duration_ns;
  if (lost > 0) {
    p.comments.push_back(std::to_string(lost) + " samples lost: a thread's sample buffer was full");
  }
  p.samples.reserve(samples.size());
  for (const runtime::CpuSample& s : samples) {
    ProfileSample out{s.pcs, {s.count, s.count * p.period}, {}};
    for (const runtime::Label& l : s.labels.labels()) out.labels.push_back({l.key, l.value, 0, ""});
    if (s.goroutine != 0) {
      out.labels.push_back({"goroutine", "", static_cast<int64_t>(s.goroutine), ""});
    }
    p.samples.push_back(std::move(out));
  }
  return p;
}

Profile wait_profile(WaitProfileKind kind, const std::vector<runtime::WaitRecord>& records) {
  Profile p;
  p.sample_types = {{"contentions", "count"}, {"delay", "nanoseconds"}};
  p.period_type = {"contentions", "count"};
  p.period = 1;
  p.time_nanos = unix_now_ns();
  const int64_t scale =
      kind == WaitProfileKind::kMutex ? std::max(runtime::set_mutex_profile_fraction(-1), 1) : 1;
  for (const runtime::WaitRecord& r : records) {
    p.samples.push_back(ProfileSample{r.pcs, {r.count * scale, r.delay_ns * scale}, {}});
  }
  return p;
}

std::string wait_profile_text(WaitProfileKind kind,
                              const std::vector<runtime::WaitRecord>& records) {
  std::string out = kind == WaitProfileKind::kBlock ? "--- contention:\n" : "--- mutex:\n";
  out += "cycles/second=1000000000\n";  // delays are in nanoseconds
  if (kind == WaitProfileKind::kMutex) {
    out += "sampling period=" + std::to_string(runtime::set_mutex_profile_fraction(-1)) + "\n";
  }
  char buf[64];
  for (const runtime::WaitRecord& r : records) {
    out += std::to_string(r.delay_ns) + " " + std::to_string(r.count) + " @";
    std::vector<uintptr_t> calls;
    for (uintptr_t pc : r.pcs) {
      std::snprintf(buf, sizeof buf, " %#" PRIxPTR, pc);
      out += buf;
      calls.push_back(pc - 1);
    }
    out += "\n";
    for (const Frame& f : symbolize(calls)) {
      std::snprintf(buf, sizeof buf, "#\t%#" PRIxPTR "\t", f.pc);
      out += buf;
      if (f.function.empty()) {
        out += "?\n";
        continue;
      }
      std::snprintf(buf, sizeof buf, "+%#" PRIxPTR "\t", f.offset);
      out += function_without_parameters(f.function) + buf + f.file + ":" + std::to_string(f.line) +
             "\n";
    }
    out += "\n";
  }
  return out;
}

bool is_pprof_page(std::string_view path) {
  return path == "/debug/pprof/profile" || path == "/debug/pprof/block" ||
         path == "/debug/pprof/mutex" || path == "/debug/pprof/symbol";
}

void serve_pprof_page(std::string_view path, http::Request& req, http::ResponseWriter& w) {
  const bool symbol = path == "/debug/pprof/symbol";
  const http::Method m = req.method();
  if (m != http::Method::kGet && m != http::Method::kHead &&
      !(symbol && m == http::Method::kPost)) {
    (void)w.reply(405, symbol ? "only GET, HEAD and POST\n" : "only GET and HEAD\n",
                  {{"Allow", symbol ? "GET, HEAD, POST" : "GET, HEAD"}, kTextNoSniff[0]});
    return;
  }
  if (symbol) {
    serve_symbol(req, w);
  } else if (path == "/debug/pprof/profile") {
    serve_cpu_profile(req, w);
  } else {
    serve_wait_profile(
        path == "/debug/pprof/block" ? WaitProfileKind::kBlock : WaitProfileKind::kMutex, req, w);
  }
}

}  // namespace spindle::debug
