// net::Error and net::Result<T>: how src/net reports failures. errno becomes a value here, at
// the boundary (STYLE.md, "Errors"); nothing in src/net throws or aborts on a peer, network,
// parse or timeout error. Design: docs/net.md, "Errors".
#pragma once

#include <string>

#include "base/result.h"

namespace spindle::net {

// What kind of failure; `code` refines kSystem (errno) and kResolve (EAI_* of getaddrinfo).
enum class ErrorKind {
  kSystem,         // a system call failed: code is its errno
  kTimeout,        // the operation's deadline passed (Go's os.ErrDeadlineExceeded)
  kClosed,         // the Conn or Listener was closed, possibly by another goroutine
  kEof,            // read_full: the peer closed before the first byte (Go's io.EOF)
  kUnexpectedEof,  // read_full: the peer closed part-way (Go's io.ErrUnexpectedEOF)
  kAddress,        // an address did not parse: detail says why
  kResolve,        // getaddrinfo failed: code is its EAI_* value
};
const char* to_string(ErrorKind k);

struct Error {
  ErrorKind kind = ErrorKind::kSystem;
  int code = 0;         // errno for kSystem, EAI_* for kResolve, else 0
  const char* op = "";  // the operation: "read", "write", "accept", "dial", "listen", ...
  std::string detail;   // usually the address involved; for kAddress, what was wrong

  static Error from_errno(int code, const char* op, std::string detail = {});
  static Error timeout(const char* op, std::string detail = {});
  static Error closed(const char* op, std::string detail = {});

  // True for deadline expiry and for the kernel's own ETIMEDOUT (e.g. a SYN never answered).
  bool timeout() const;
  bool closed() const { return kind == ErrorKind::kClosed; }
  // Worth retrying later on the same listener or address: timeouts, EAGAIN, EINTR, and the
  // resource shortages EMFILE, ENFILE, ENOBUFS, ENOMEM (Go's Temporary()).
  bool temporary() const;
  // "read 127.0.0.1:8080: connection reset by peer", "dial [::1]:9: i/o timeout".
  std::string message() const;
};

template <typename T>
using Result = base::Result<T, Error>;

}  // namespace spindle::net
