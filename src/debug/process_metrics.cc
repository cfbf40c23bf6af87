#include "debug/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "runtime/blocking.h"

namespace spindle::debug {
namespace {

struct ProcessState {
  bool stat_ok = false;
  double cpu_seconds = 0;
  double rss_bytes = 0;
  double vsize_bytes = 0;
  double start_time = 0;  // seconds since the epoch
  long open_fds = -1;
  double max_fds = -1;
};

std::string read_file(const char* path) {
  std::string out;
  if (std::FILE* f = std::fopen(path, "re")) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    std::fclose(f);
  }
  return out;
}

// /proc/self/stat fields after the command name (which may hold spaces and parentheses):
// field 3 is the state; utime 14, stime 15, starttime 22, vsize 23, rss 24 (in pages).
void read_stat(ProcessState& s) {
  const std::string stat = read_file("/proc/self/stat");
  const std::size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return;
  const char* p = stat.c_str() + paren + 2;
  unsigned long long field[25] = {};
  for (int i = 3; i <= 24 && *p != '\0'; ++i) {
    char* end = nullptr;
    field[i] = std::strtoull(p, &end, 10);
    if (end == p) ++end;  // the state letter
    p = end;
    while (*p == ' ') ++p;
  }
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  s.cpu_seconds = static_cast<double>(field[14] + field[15]) / tick;
  s.vsize_bytes = static_cast<double>(field[23]);
  s.rss_bytes = static_cast<double>(field[24]) * page;
  // btime in /proc/stat: when the machine booted, in seconds since the epoch.
  const std::string machine = read_file("/proc/stat");
  const std::size_t at = machine.find("\nbtime ");
  if (at == std::string::npos) return;
  s.start_time = static_cast<double>(std::strtoull(machine.c_str() + at + 7, nullptr, 10)) +
                 static_cast<double>(field[22]) / tick;
  s.stat_ok = true;
}

void read_fds(ProcessState& s) {
  if (DIR* d = opendir("/proc/self/fd")) {
    long n = 0;
    while (const dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    closedir(d);
    s.open_fds = n - 1;  // not the directory's own descriptor
  }
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0) {
    s.max_fds = r.rlim_cur == RLIM_INFINITY ? -1 : static_cast<double>(r.rlim_cur);
  }
}

}  // namespace

void write_process_metrics(MetricsText& out) {
  const ProcessState s = runtime::blocking([] {
    ProcessState st;
    read_stat(st);
    read_fds(st);
    return st;
  });
  if (s.stat_ok) {
    out.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                s.cpu_seconds);
    out.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", s.rss_bytes);
    out.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", s.vsize_bytes);
    out.gauge("process_start_time_seconds",
              "Start time of the process since unix epoch in seconds.", s.start_time);
  }
  if (s.open_fds >= 0) {
    out.gauge("process_open_fds", "Number of open file descriptors.",
              static_cast<double>(s.open_fds));
  }
  if (s.max_fds >= 0) {
    out.gauge("process_max_fds", "Maximum number of open file descriptors.", s.max_fds);
  }
}

}  // namespace spindle::debug
