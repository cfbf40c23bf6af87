// The proxy's failure policy as one table: every row is a typed failure, a request and the
// attempts so far, and the step the proxy takes, with whom it charges.
#include "lb/failure_policy.h"

#include <gtest/gtest.h>

#include <string>

namespace spindle::lb {
namespace {

using http::ErrorCode;
using http::Phase;
using http::Side;

http::Error error(ErrorCode code, Side side, Phase phase, int status = 0) {
  http::Error e;
  e.code = code;
  e.side = side;
  e.phase = phase;
  e.status = status;
  return e;
}

constexpr RequestTraits kGet{.idempotent = true, .has_body = false};
constexpr RequestTraits kPost{.idempotent = false, .has_body = false};
constexpr RequestTraits kPutBuffered{.idempotent = true, .has_body = true, .body_resendable = true};
constexpr RequestTraits kPostStreamed{
    .idempotent = false, .has_body = true, .body_resendable = false};

constexpr NextStep kFailover{Step::kFailover, 0, Blame::kBackend};
constexpr NextStep kRetry{Step::kRetry, 0, Blame::kBackend};
constexpr NextStep k502{Step::kAnswer, 502, Blame::kBackend};
constexpr NextStep k504{Step::kAnswer, 504, Blame::kBackend};
constexpr NextStep kDrop{Step::kDrop, 0, Blame::kNobody};

struct Row {
  const char* what;
  http::Error error;
  RequestTraits request;
  Attempts attempts;
  NextStep want;
};

TEST(FailurePolicy, Table) {
  const Attempts first{.failed = 1};
  const Attempts last{.failed = kMaxAttempts};
  const Attempts retried{.failed = 2, .retried = true};
  const Row rows[] = {
      // Connecting failed: nothing was sent, so any method goes to another backend.
      {"connect refused, GET", error(ErrorCode::kNetwork, Side::kUpstream, Phase::kConnect), kGet,
       first, kFailover},
      {"connect refused, POST", error(ErrorCode::kNetwork, Side::kUpstream, Phase::kConnect), kPost,
       first, kFailover},
      {"connect timeout, POST with a buffered body",
       error(ErrorCode::kTimeout, Side::kUpstream, Phase::kConnect), kPutBuffered, first,
       kFailover},
      {"connect refused, a body partly streamed already",
       error(ErrorCode::kNetwork, Side::kUpstream, Phase::kConnect), kPostStreamed, first, k502},
      {"connect refused on the last attempt, POST",
       error(ErrorCode::kNetwork, Side::kUpstream, Phase::kConnect), kPost, last, k502},
      // A bodiless GET that failed to connect everywhere still gets its one retry.
      {"connect refused on the last attempt, GET",
       error(ErrorCode::kNetwork, Side::kUpstream, Phase::kConnect), kGet, last, kRetry},
      {"connect timeout on the last attempt, GET: not retried, and a 502 (no answer began)",
       error(ErrorCode::kTimeout, Side::kUpstream, Phase::kConnect), kGet, last, k502},
      // Nothing came back: an idempotent bodiless request is sent once more.
      {"reset while sending, GET", error(ErrorCode::kNetwork, Side::kUpstream, Phase::kSendRequest),
       kGet, first, kRetry},
      {"closed before any response byte, GET",
       error(ErrorCode::kNetwork, Side::kUpstream, Phase::kAwaitResponse), kGet, first, kRetry},
      {"closed before any response byte, GET, retried already",
       error(ErrorCode::kNetwork, Side::kUpstream, Phase::kAwaitResponse), kGet, retried, k502},
      {"closed before any response byte, POST",
       error(ErrorCode::kNetwork, Side::kUpstream, Phase::kAwaitResponse), kPost, first, k502},
      {"closed before any response byte, PUT with a body",
       error(ErrorCode::kNetwork, Side::kUpstream, Phase::kAwaitResponse), kPutBuffered, first,
       k502},
      {"response-header timeout, GET",
       error(ErrorCode::kTimeout, Side::kUpstream, Phase::kAwaitResponse), kGet, first, k504},
      {"write timeout, POST", error(ErrorCode::kTimeout, Side::kUpstream, Phase::kSendRequest),
       kPost, first, k504},
      // Some of the response came back: the backend may have acted on it.
      {"closed mid-head, GET", error(ErrorCode::kNetwork, Side::kUpstream, Phase::kResponseHead),
       kGet, first, k502},
      {"malformed head, GET", error(ErrorCode::kParse, Side::kUpstream, Phase::kResponseHead, 502),
       kGet, first, k502},
      {"timeout mid-head, GET", error(ErrorCode::kTimeout, Side::kUpstream, Phase::kResponseHead),
       kGet, first, k504},
      {"reset mid-body",
       error(ErrorCode::kNetwork, Side::kUpstream, Phase::kResponseBody),
       kGet,
       {},
       k502},
      {"malformed chunked body",
       error(ErrorCode::kParse, Side::kUpstream, Phase::kResponseBody),
       kGet,
       {},
       k502},
      {"body read timeout",
       error(ErrorCode::kTimeout, Side::kUpstream, Phase::kResponseBody),
       kGet,
       {},
       k504},
      // The client's failures are its own, whatever the phase.
      {"the client's body malformed",
       error(ErrorCode::kParse, Side::kClient, Phase::kSendRequest, 400),
       kPostStreamed,
       first,
       {Step::kAnswer, 400, Blame::kClient}},
      {"the client's body too large",
       error(ErrorCode::kBadArgument, Side::kClient, Phase::kSendRequest, 413),
       kPostStreamed,
       first,
       {Step::kAnswer, 413, Blame::kClient}},
      {"the client's body too slow, after the response began",
       error(ErrorCode::kTimeout, Side::kClient, Phase::kSendRequest, 408),
       kPostStreamed,
       {},
       {Step::kAnswer, 408, Blame::kClient}},
      {"the client's body ended early, no status given",
       error(ErrorCode::kNetwork, Side::kClient, Phase::kSendRequest),
       kPostStreamed,
       first,
       {Step::kAnswer, 400, Blame::kClient}},
      // The client left: nobody to answer, nobody at fault.
      {"cancelled before a response", error(ErrorCode::kCanceled, Side::kInternal, Phase::kNone),
       kGet, first, kDrop},
      {"cancelled mid-body",
       error(ErrorCode::kCanceled, Side::kInternal, Phase::kNone),
       kGet,
       {},
       kDrop},
      // The balancer's own mistake is nobody else's.
      {"a bad argument",
       error(ErrorCode::kBadArgument, Side::kInternal, Phase::kSendRequest),
       kGet,
       first,
       {Step::kAnswer, 502, Blame::kNobody}},
  };
  for (const Row& r : rows) {
    const NextStep got = next_step(r.error, r.request, r.attempts);
    EXPECT_EQ(got.step, r.want.step) << r.what;
    EXPECT_EQ(got.status, r.want.status) << r.what;
    EXPECT_EQ(got.blame, r.want.blame) << r.what;
  }
}

}  // namespace
}  // namespace spindle::lb
