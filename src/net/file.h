// File I/O that does not hold up a processor: each call goes through runtime::blocking(), so
// a slow disk hands the P to another thread after ~20 µs (Go's os.File does the same through
// entersyscall). Regular files are always "ready" to epoll, so the netpoller cannot help.
#pragma once

#include <string>
#include <string_view>

#include "net/error.h"

namespace spindle::net {

// The whole file. Errors carry errno and the path.
Result<std::string> read_file(const std::string& path);
// Replaces the file's contents (created with mode 0644 if missing).
Result<bool> write_file(const std::string& path, std::string_view data);

}  // namespace spindle::net
