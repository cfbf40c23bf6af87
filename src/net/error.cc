#include "net/error.h"

#include <netdb.h>
#include <string.h>

#include <cerrno>

namespace spindle::net {

const char* to_string(ErrorKind k) {
  switch (k) {
    case ErrorKind::kSystem:
      return "system call failed";
    case ErrorKind::kTimeout:
      return "i/o timeout";
    case ErrorKind::kClosed:
      return "use of closed network connection";
    case ErrorKind::kEof:
      return "EOF";
    case ErrorKind::kUnexpectedEof:
      return "unexpected EOF";
    case ErrorKind::kAddress:
      return "invalid address";
    case ErrorKind::kResolve:
      return "name resolution failed";
  }
  return "unknown error";
}

Error Error::from_errno(int code, const char* op, std::string detail) {
  return Error{ErrorKind::kSystem, code, op, std::move(detail)};
}

Error Error::timeout(const char* op, std::string detail) {
  return Error{ErrorKind::kTimeout, 0, op, std::move(detail)};
}

Error Error::closed(const char* op, std::string detail) {
  return Error{ErrorKind::kClosed, 0, op, std::move(detail)};
}

bool Error::timeout() const {
  return kind == ErrorKind::kTimeout || (kind == ErrorKind::kSystem && code == ETIMEDOUT);
}

bool Error::temporary() const {
  if (timeout()) return true;
  if (kind == ErrorKind::kResolve) return code == EAI_AGAIN;
  if (kind != ErrorKind::kSystem) return false;
  switch (code) {
    case EAGAIN:
    case EINTR:
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
    case ECONNABORTED:
      return true;
    default:
      return false;
  }
}

std::string Error::message() const {
  std::string m = op;
  if (!detail.empty() && kind != ErrorKind::kAddress) {
    m += ' ';
    m += detail;
  }
  m += ": ";
  switch (kind) {
    case ErrorKind::kSystem: {
      char buf[128];
      m += strerror_r(code, buf, sizeof buf);  // GNU strerror_r: returns the string
      break;
    }
    case ErrorKind::kResolve:
      m += gai_strerror(code);
      break;
    case ErrorKind::kAddress:
      m += detail;
      break;
    default:
      m += to_string(kind);
  }
  return m;
}

}  // namespace spindle::net
