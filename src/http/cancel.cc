#include "http/cancel.h"

namespace spindle::http {

void Cancel::cancel() {
  canceled_.store(true, std::memory_order_release);
  runtime::MutexLock lock(mu_);
  if (conn_ != nullptr) (void)conn_->close();
}

bool Cancel::attach(net::Conn* c) {
  runtime::MutexLock lock(mu_);
  conn_ = c;
  return !canceled();
}

void Cancel::reset() {
  runtime::MutexLock lock(mu_);
  conn_ = nullptr;
  canceled_.store(false, std::memory_order_relaxed);
}

}  // namespace spindle::http
