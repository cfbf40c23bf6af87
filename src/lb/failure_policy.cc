#include "lb/failure_policy.h"

namespace spindle::lb {

NextStep next_step(const http::Error& e, const RequestTraits& request, const Attempts& attempts) {
  if (e.code == http::ErrorCode::kCanceled) return {Step::kDrop, 0, Blame::kNobody};
  if (e.side == http::Side::kClient) {
    return {Step::kAnswer, e.status != 0 ? e.status : 400, Blame::kClient};
  }
  if (e.side == http::Side::kInternal) return {Step::kAnswer, 502, Blame::kNobody};
  // The backend's failure from here on.
  if (e.phase == http::Phase::kConnect && (!request.has_body || request.body_resendable) &&
      attempts.failed < kMaxAttempts) {
    return {Step::kFailover, 0, Blame::kBackend};
  }
  // Nothing came back, so the backend may not have acted on it; a bodiless idempotent request
  // may be sent twice. Not after a timeout: the backend may still be working on it.
  if (!attempts.retried && http::before_response(e.phase) && !request.has_body &&
      request.idempotent && e.code != http::ErrorCode::kTimeout) {
    return {Step::kRetry, 0, Blame::kBackend};
  }
  const bool timeout = e.code == http::ErrorCode::kTimeout && e.phase != http::Phase::kConnect;
  return {Step::kAnswer, timeout ? 504 : 502, Blame::kBackend};
}

}  // namespace spindle::lb
