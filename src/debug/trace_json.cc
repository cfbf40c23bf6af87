#include "debug/trace_json.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <set>
#include <string_view>

#include "base/time.h"
#include "debug/pages.h"
#include "runtime/time.h"

namespace spindle::debug {
namespace {

using runtime::WaitReason;
using runtime::trace::BlockingExit;
using runtime::trace::Event;
using runtime::trace::EventType;
using runtime::trace::StopWhy;

constexpr int kPs = 0;  // pid of the P timelines
constexpr int kMs = 1;  // pid of the M (thread) timelines

// A thread's timeline id: M ids as they are, threads without an M after them.
int tid_of(int16_t tid) { return tid >= 0 ? tid : 10000 + (-1 - tid); }

std::string end_reason(const Event& stop) {
  switch (static_cast<StopWhy>(stop.detail)) {
    case StopWhy::kPark:
      return std::string("park: ") + runtime::to_string(static_cast<WaitReason>(stop.arg));
    case StopWhy::kYield:
      return "yield";
    case StopWhy::kExit:
      return "exit";
    case StopWhy::kBlockingNoP:
      return "blocking call, P lost";
    case StopWhy::kNone:
      break;
  }
  return "stopped";
}

const char* blocking_exit(uint8_t detail) {
  switch (static_cast<BlockingExit>(detail)) {
    case BlockingExit::kKeptP:
      return "kept its P";
    case BlockingExit::kOtherP:
      return "took an idle P";
    case BlockingExit::kNoP:
      return "no P: queued";
  }
  return "";
}

class Writer {
 public:
  explicit Writer(int64_t origin) : origin_(origin) {}

  // A timestamp in microseconds with nanosecond digits.
  std::string us(int64_t ns) const {
    const int64_t rel = std::max<int64_t>(0, ns - origin_);
    return fmt::format("{}.{:03}", rel / 1000, rel % 1000);
  }
  void raw(std::string_view event) {
    if (!first_) out_ += ",\n";
    first_ = false;
    out_ += event;
  }
  void slice(std::string_view name, std::string_view cat, int pid, int tid, int64_t start,
             int64_t end, std::string_view args) {
    raw(fmt::format(
        R"({{"name":"{}","cat":"{}","ph":"X","pid":{},"tid":{},"ts":{},"dur":{},"args":{{{}}}}})",
        name, cat, pid, tid, us(start), dur(start, end), args));
  }
  void instant(std::string_view name, int pid, int tid, int64_t ts, std::string_view args) {
    raw(fmt::format(
        R"({{"name":"{}","cat":"scheduler","ph":"i","s":"t","pid":{},"tid":{},"ts":{},"args":{{{}}}}})",
        name, pid, tid, us(ts), args));
  }
  void flow(char ph, std::string_view name, uint64_t id, int pid, int tid, int64_t ts) {
    raw(fmt::format(R"({{"name":"{}","cat":"flow","ph":"{}",{}"id":{},"pid":{},"tid":{},"ts":{}}})",
                    name, ph, ph == 'f' ? R"("bp":"e",)" : "", id, pid, tid, us(ts)));
  }
  std::string take() { return std::move(out_); }

 private:
  static std::string dur(int64_t start, int64_t end) {
    const int64_t d = std::max<int64_t>(0, end - start);
    return fmt::format("{}.{:03}", d / 1000, d % 1000);
  }
  int64_t origin_;
  bool first_ = true;
  std::string out_;
};

struct Running {  // a goroutine slice that has started and not ended
  uint64_t g;
  int64_t start;
  int m;          // tid of its M
  int p;          // its P, -1 if none
  uint64_t flow;  // flow arriving at its start, 0 if none
  const char* flow_name;
};

class Builder {
 public:
  Builder(const runtime::trace::Trace& t) : t_(t), w_(t.start_ns) {}

  std::string build() {
    std::vector<Event> events = t_.events;
    std::stable_sort(events.begin(), events.end(),
                     [](const Event& a, const Event& b) { return a.ts < b.ts; });
    for (const Event& e : events) on(e);
    for (auto& [tid, r] : on_m_) end_m(r, t_.end_ns, "trace end");
    for (auto& [p, r] : on_p_) end_p(r, t_.end_ns, "trace end");
    metadata();
    return fmt::format(
        R"({{"displayTimeUnit":"ns","otherData":{{"producer":"spindle","procs":{},"events":{},"dropped_events":{},"duration_us":{}}},"traceEvents":[)"
        "\n{}\n]}}\n",
        t_.procs, t_.events.size(), t_.dropped, w_.us(t_.end_ns), w_.take());
  }

 private:
  void on(const Event& e) {
    const int tid = tid_of(e.tid);
    tids_.insert(tid);
    if (e.p >= 0) ps_.insert(e.p);
    switch (e.type) {
      case EventType::kGoCreate:
        anchor_flow(e, tid, "create", fmt::format(R"("goroutine":{},"by":{})", e.g, e.arg));
        break;
      case EventType::kGoUnpark:
        anchor_flow(e, tid, "unpark", fmt::format(R"("goroutine":{},"by":{})", e.g, e.arg));
        break;
      case EventType::kGoStart:
        start(e, tid);
        break;
      case EventType::kGoStop:
        stop(e, tid);
        break;
      case EventType::kSteal:
        w_.instant(fmt::format("steal from P{}", e.arg), kMs, tid, e.ts,
                   fmt::format(R"("P":{},"victim":{})", e.p, e.arg));
        break;
      case EventType::kNetpoll:
        w_.instant("netpoll", kMs, tid, e.ts, fmt::format(R"("ready":{})", e.arg));
        break;
      case EventType::kBlockingEnter:
        running_at_start(tid, e.g, e.p);
        blocking_[tid] = e;
        break;
      case EventType::kBlockingExit:
        blocking_exit_slice(e, tid);
        break;
      case EventType::kPHandoff:
      case EventType::kRetake:
        p_lost(e, tid);
        break;
      case EventType::kSpinStart:
        spinning_[tid] = e.ts;
        break;
      case EventType::kSpinStop:
        if (auto it = spinning_.find(tid); it != spinning_.end()) {
          w_.slice("spinning", "scheduler", kMs, tid, it->second, e.ts, "");
          spinning_.erase(it);
        }
        break;
      case EventType::kMStop:
        sleeping_[tid] = e;
        break;
      case EventType::kMWake:
        if (auto it = sleeping_.find(tid); it != sleeping_.end()) {
          w_.slice(it->second.detail == 1 ? "blocked in netpoll" : "idle", "scheduler", kMs, tid,
                   it->second.ts, e.ts, "");
          sleeping_.erase(it);
        }
        break;
    }
  }

  // The start of a flow (an unpark or create) on the waker's timeline: inside the waker's
  // goroutine slice when it runs one, else in a 2 ns slice of its own so the arrow has
  // something to leave from.
  void anchor_flow(const Event& e, int tid, const char* what, const std::string& args) {
    running_at_start(tid, e.arg, e.p);
    const uint64_t id = ++flows_;
    pending_[e.g] = {id, what};
    const std::string name = fmt::format("{} G{}", what, e.g);
    if (on_m_.count(tid) != 0) {
      w_.instant(name, kMs, tid, e.ts, args);
      w_.flow('s', what, id, kMs, tid, e.ts);
    } else {
      w_.slice(name, "scheduler", kMs, tid, e.ts, e.ts + 2, args);
      w_.flow('s', what, id, kMs, tid, e.ts + 1);
    }
  }

  // Goroutine g did something on this M before any goroutine started there in the trace: it
  // was running when the trace started, so its slice starts with the trace.
  void running_at_start(int tid, uint64_t g, int p) {
    if (g == 0 || started_.count(tid) != 0) return;
    started_.insert(tid);
    Running r{g, t_.start_ns, tid, p, 0, nullptr};
    on_m_[tid] = r;
    if (p >= 0 && p_used_.insert(p).second) on_p_[p] = r;  // no other slice on that P yet
  }

  void start(const Event& e, int tid) {
    started_.insert(tid);
    if (auto it = on_m_.find(tid); it != on_m_.end()) end_m(it->second, e.ts, "stopped");
    on_m_.erase(tid);
    Running r{e.g, e.ts, tid, e.p, 0, nullptr};
    if (auto it = pending_.find(e.g); it != pending_.end()) {
      r.flow = it->second.first;
      r.flow_name = it->second.second;
      pending_.erase(it);
    }
    if (e.p >= 0) {
      p_used_.insert(e.p);
      if (auto it = on_p_.find(e.p); it != on_p_.end()) end_p(it->second, e.ts, "P taken");
      on_p_[e.p] = r;
      r.flow = 0;  // the arrow ends on the P's timeline (on the M's only if there is no P)
    }
    on_m_[tid] = r;
  }

  void stop(const Event& e, int tid) {
    running_at_start(tid, e.g, e.p);
    auto it = on_m_.find(tid);
    if (it == on_m_.end() || it->second.g != e.g) return;
    const std::string why = end_reason(e);
    if (it->second.p >= 0) {
      auto p = on_p_.find(it->second.p);
      if (p != on_p_.end() && p->second.g == e.g && p->second.m == tid) {
        end_p(p->second, e.ts, why);
        on_p_.erase(p);
      }
    }
    end_m(it->second, e.ts, why);
    on_m_.erase(it);
  }

  void p_lost(const Event& e, int tid) {
    const int p = static_cast<int>(e.arg);
    ps_.insert(p);
    const bool retake = e.type == EventType::kRetake;
    const char* name =
        retake ? (e.detail == 0 ? "sysmon retake (blocking call)" : "sysmon retake (long runner)")
               : "P handoff";
    w_.instant(name, kPs, p, e.ts, fmt::format(R"("P":{})", p));
    w_.instant(fmt::format("{} P{}", retake ? "retake" : "handoff", p), kMs, tid, e.ts,
               fmt::format(R"("P":{})", p));
    if (auto it = on_p_.find(p); it != on_p_.end()) {
      end_p(it->second, e.ts, retake ? "P retaken by sysmon" : "P handed off");
      on_p_.erase(it);
    }
  }

  void blocking_exit_slice(const Event& e, int tid) {
    auto it = blocking_.find(tid);
    if (it == blocking_.end() || it->second.g != e.g) return;
    w_.slice("blocking call", "scheduler", kMs, tid, it->second.ts, e.ts,
             fmt::format(R"("goroutine":{},"exit":"{}")", e.g, blocking_exit(e.detail)));
    blocking_.erase(it);
  }

  void end_m(const Running& r, int64_t end, const std::string& why) { emit(r, kMs, r.m, end, why); }
  void end_p(const Running& r, int64_t end, const std::string& why) { emit(r, kPs, r.p, end, why); }

  void emit(const Running& r, int pid, int tid, int64_t end, const std::string& why) {
    w_.slice(fmt::format("G{}", r.g), "goroutine", pid, tid, r.start, end,
             fmt::format(R"("goroutine":{},"M":{},"P":{},"end":"{}")", r.g, r.m, r.p, why));
    if (r.flow != 0) {
      // Inside the slice (1 ns after its start when it is that long), so both viewers bind the
      // arrow to it whatever order they give events with equal timestamps.
      w_.flow('f', r.flow_name, r.flow, pid, tid, end - r.start >= 2 ? r.start + 1 : r.start);
    }
  }

  void metadata() {
    auto meta = [&](const char* what, int pid, int tid, const std::string& value) {
      w_.raw(fmt::format(
          R"({{"name":"{}","ph":"M","pid":{},"tid":{},"args":{{"{}":{}}}}})", what, pid, tid,
          what == std::string_view("thread_name") || what == std::string_view("process_name")
              ? "name"
              : "sort_index",
          value));
    };
    meta("process_name", kPs, 0, R"("Ps")");
    meta("process_sort_index", kPs, 0, "0");
    meta("process_name", kMs, 0, R"("Ms")");
    meta("process_sort_index", kMs, 0, "1");
    for (int p = 0; p < t_.procs; ++p) ps_.insert(p);
    for (int p : ps_) {
      meta("thread_name", kPs, p, fmt::format(R"("P{}")", p));
      meta("thread_sort_index", kPs, p, std::to_string(p));
    }
    std::map<int, std::string> names;
    for (const auto& th : t_.threads) names[tid_of(th.tid)] = th.name;
    for (int tid : tids_) {
      const auto it = names.find(tid);
      const std::string name =
          tid < 10000 ? fmt::format("M{}", tid) : (it != names.end() ? it->second : "thread");
      meta("thread_name", kMs, tid, fmt::format(R"("{}")", name));
      meta("thread_sort_index", kMs, tid, std::to_string(tid));
    }
  }

  const runtime::trace::Trace& t_;
  Writer w_;
  std::map<int, Running> on_m_;                                   // by M timeline
  std::map<int, Running> on_p_;                                   // by P
  std::map<uint64_t, std::pair<uint64_t, const char*>> pending_;  // goroutine -> flow to its run
  std::map<int, Event> blocking_;
  std::map<int, int64_t> spinning_;
  std::map<int, Event> sleeping_;
  std::set<int> tids_;
  std::set<int> started_;  // M timelines on which a goroutine started during the trace
  std::set<int> ps_;
  std::set<int> p_used_;  // Ps on which a goroutine slice began
  uint64_t flows_ = 0;
};

}  // namespace

std::string chrome_trace_json(runtime::trace::Trace trace) { return Builder(trace).build(); }

void serve_execution_trace(std::string_view target, http::ResponseWriter& w) {
  double seconds = 1;
  const std::string_view given = query_value(query_of(target), "seconds").value_or("");
  if (!given.empty()) {
    const auto [end, ec] = std::from_chars(given.data(), given.data() + given.size(), seconds);
    if (ec != std::errc() || end != given.data() + given.size() || !(seconds >= 0.001) ||
        seconds > 60) {
      (void)w.reply(400, "seconds: a number from 0.001 to 60\n", kText);
      return;
    }
  }
  auto session = runtime::trace::Session::start();
  if (session == nullptr) {
    (void)w.reply(409, "Could not enable tracing: tracing is already enabled\n", kText);
    return;
  }
  const auto until = base::Clock::now() + base::Duration(static_cast<int64_t>(seconds * 1e9));
  for (;;) {
    const auto now = base::Clock::now();
    if (now >= until) break;
    runtime::sleep_for(std::min<base::Duration>(until - now, std::chrono::milliseconds(10)));
    session->drain();
  }
  const std::string body = chrome_trace_json(session->stop());
  (void)w.reply(200, body,
                {{"Content-Type", "application/json"},
                 {"Content-Disposition", "attachment; filename=\"trace.json\""}});
}

}  // namespace spindle::debug
