#include "net/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/blocking.h"

namespace spindle::net {

Result<std::string> read_file(const std::string& path) {
  return runtime::blocking([&]() -> Result<std::string> {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Error::from_errno(errno, "open", path);
    std::string out;
    char buf[64 * 1024];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        out.append(buf, static_cast<size_t>(n));
      } else if (n == 0) {
        break;
      } else if (errno != EINTR) {
        int err = errno;
        ::close(fd);
        return Error::from_errno(err, "read", path);
      }
    }
    ::close(fd);
    return out;
  });
}

Result<bool> write_file(const std::string& path, std::string_view data) {
  return runtime::blocking([&]() -> Result<bool> {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Error::from_errno(errno, "open", path);
    while (!data.empty()) {
      ssize_t n = ::write(fd, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int err = errno;
        ::close(fd);
        return Error::from_errno(err, "write", path);
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    if (::close(fd) != 0) return Error::from_errno(errno, "close", path);
    return true;
  });
}

}  // namespace spindle::net
