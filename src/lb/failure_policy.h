// The proxy's failure policy: after an attempt to forward a request failed, whether to send it
// to another backend, answer (502, 504, or the client's own 4xx) or drop it, and who is charged
// with the failure. One pure function of the typed error (http::Error: code, side, phase), the
// request and the attempts so far, so the whole policy reads, and is tested, as one table
// (failure_policy_test.cc). Design: docs/lb.md, "Who is charged", and proxy.cc.
#pragma once

#include <cstdint>

#include "http/error.h"

namespace spindle::lb {

// Backends tried for one request while connecting fails.
inline constexpr int kMaxAttempts = 3;

// What the request allows when it must be sent again.
struct RequestTraits {
  bool idempotent = true;  // RFC 9110 §9.2.2: the server may see it twice
  bool has_body = false;
  bool body_resendable = true;  // all of the body is still to hand (in memory, or none read)
};

// The attempts of one request so far, the failed one included.
struct Attempts {
  int failed = 0;
  bool retried = false;  // one of them was a retry
};

enum class Step : std::uint8_t {
  kFailover,  // send it to another backend: nothing reached the failed one
  kRetry,     // send it once more, to another backend: nothing came back, and twice is safe
  kAnswer,    // answer `status`, or cut the response short if it has begun
  kDrop,      // nobody to answer: the client went away
};

// Whose failure it was: only the backend's count towards its ejection.
enum class Blame : std::uint8_t { kNobody, kClient, kBackend };

struct NextStep {
  Step step = Step::kAnswer;
  int status = 0;  // with kAnswer: 502, 504, or the client's 400/408/413
  Blame blame = Blame::kNobody;
  friend bool operator==(const NextStep&, const NextStep&) = default;
};

// The rules, in order:
//   cancelled (the client left)                     -> drop, nobody's
//   the client's side (its body broke, too large, too slow) -> its status, the client's
//   the balancer's own (a bad argument)             -> 502, nobody's
//   the backend's, connect failed, fewer than kMaxAttempts tried, body resendable
//                                                   -> failover
//   the backend's, no response byte, bodiless idempotent request, not a timeout, not retried
//                                                   -> retry
//   the backend's, a timeout after connecting       -> 504
//   the backend's, anything else                    -> 502
NextStep next_step(const http::Error& e, const RequestTraits& request, const Attempts& attempts);

}  // namespace spindle::lb
