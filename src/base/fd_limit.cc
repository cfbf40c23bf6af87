#include "base/fd_limit.h"

#include <sys/resource.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace spindle::base {

namespace {

std::uint64_t value(rlim_t v) { return v == RLIM_INFINITY ? UINT64_MAX : v; }

std::string text(std::uint64_t v) { return v == UINT64_MAX ? "unlimited" : std::to_string(v); }

// fs.nr_open: the most any process may have open (the ceiling of a raised soft limit).
rlim_t nr_open() {
  rlim_t n = 1024 * 1024;
  if (std::FILE* f = std::fopen("/proc/sys/fs/nr_open", "r")) {
    unsigned long long v = 0;
    if (std::fscanf(f, "%llu", &v) == 1 && v > 0) n = static_cast<rlim_t>(v);
    std::fclose(f);
  }
  return n;
}

}  // namespace

std::string FdLimit::describe() const {
  std::string out = "open files: soft limit " + text(soft_before);
  if (soft != soft_before) {
    out += " raised to " + text(soft);
  } else if (error != 0) {
    out += " kept (raising it failed: " + std::string(std::strerror(error)) + ")";
  } else {
    out += " kept";
  }
  return out + " (hard limit " + text(hard) + ")";
}

FdLimit raise_fd_limit() {
  FdLimit out;
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) {
    out.error = errno;
    return out;
  }
  out.soft_before = out.soft = value(r.rlim_cur);
  out.hard = value(r.rlim_max);
  if (r.rlim_cur == r.rlim_max) return out;
  rlimit raised = r;
  raised.rlim_cur = r.rlim_max == RLIM_INFINITY ? nr_open() : r.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    out.error = errno;
    return out;
  }
  out.soft = value(raised.rlim_cur);
  return out;
}

std::uint64_t fd_limit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return 1024;
  return value(r.rlim_cur);
}

}  // namespace spindle::base
