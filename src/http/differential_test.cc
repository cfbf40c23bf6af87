// Differential test: every corpus file and every table row is read by spindle and by an
// independent parser, libhttp-parser (Debian libhttp-parser-dev). They must agree on accept /
// reject and on message boundaries, except for the cases listed in kKnownDisagreements, each
// with the reason spindle is right (libhttp-parser is lenient where RFC 9112 is strict).
#include <gtest/gtest.h>
#include <http_parser.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "http/test_vectors.h"
#include "http/transcript.h"

namespace spindle::http::testing {
namespace {

struct Case {
  std::string name;
  std::string bytes;
  bool requests;
};

// What a parser made of a stream, in terms both parsers can state.
struct Verdict {
  std::string outcome;  // "accept", "reject" or "incomplete"
  std::vector<std::size_t> boundaries;

  std::string to_string() const {
    std::string s = outcome + " [";
    for (std::size_t b : boundaries) s += std::to_string(b) + " ";
    return s + "]";
  }
  bool operator==(const Verdict&) const = default;
};

Verdict spindle_verdict(const Case& c) {
  StreamOptions o;
  o.requests = c.requests;
  const Transcript t = read_stream(c.bytes, o);
  Verdict v;
  for (const MessageRecord& m : t.messages) v.boundaries.push_back(m.end);
  switch (t.end) {
    case StreamEnd::kClean:
    case StreamEnd::kTunnel:
      v.outcome = "accept";
      break;
    case StreamEnd::kIncomplete:
      v.outcome = "incomplete";
      break;
    case StreamEnd::kError:
      // A body cut short by the close is what libhttp-parser calls an invalid EOF state.
      v.outcome = std::string_view(t.error.reason) == "connection closed before end of body"
                      ? "incomplete"
                      : "reject";
      break;
  }
  return v;
}

int on_message_complete(http_parser* p) {
  http_parser_pause(p, 1);  // stop right after the message: execute() returns its end
  return 0;
}

Verdict peer_verdict(const Case& c) {
  http_parser parser;
  http_parser_init(&parser, c.requests ? HTTP_REQUEST : HTTP_RESPONSE);
  http_parser_settings settings;
  http_parser_settings_init(&settings);
  settings.on_message_complete = on_message_complete;
  Verdict v;
  std::size_t pos = 0;
  while (true) {
    const bool eof = pos == c.bytes.size();
    const std::size_t n = http_parser_execute(
        &parser, &settings, eof ? nullptr : c.bytes.data() + pos, c.bytes.size() - pos);
    pos += n;
    const http_errno err = HTTP_PARSER_ERRNO(&parser);
    if (err == HPE_PAUSED) {
      if (v.boundaries.size() == 64) break;  // as spindle's transcript: at most 64 messages
      v.boundaries.push_back(pos);
      http_parser_pause(&parser, 0);
      if (parser.upgrade || eof) break;  // the rest is another protocol, or nothing
      continue;
    }
    if (err == HPE_INVALID_EOF_STATE) {
      v.outcome = "incomplete";
      return v;
    }
    if (err != HPE_OK) {
      v.outcome = "reject";
      return v;
    }
    if (parser.upgrade || eof) break;
    if (n == 0) {  // stuck without an error: report what it has
      v.outcome = "incomplete";
      return v;
    }
  }
  v.outcome = "accept";
  return v;
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (const char* kind : {"request", "response"}) {
    const std::filesystem::path dir = std::filesystem::path(SPINDLE_HTTP_CORPUS) / kind;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      std::ifstream in(entry.path(), std::ios::binary);
      std::stringstream bytes;
      bytes << in.rdbuf();
      cases.push_back({std::string(kind) + "/" + entry.path().filename().string(), bytes.str(),
                       std::string(kind) == "request"});
    }
  }
  for (const Rejection& r : kRequestRejections) cases.push_back({r.name, r.input, true});
  for (const Rejection& r : kSmuggling) cases.push_back({r.name, r.input, true});
  return cases;
}

// Where libhttp-parser disagrees, and why spindle's answer is the RFC's.
const std::map<std::string, const char*> kKnownDisagreements = {
    // Line endings: RFC 9112 §2.2 lets a recipient accept a bare LF; a proxy must not, since a
    // backend that does not would see different lines (request smuggling).
    {"request/bare_lf.http", "bare LF rejected, RFC 9112 §2.2"},
    {"response/bare_lf.http", "bare LF rejected, RFC 9112 §2.2"},
    {"bare LF ends a line", "bare LF rejected, RFC 9112 §2.2"},
    {"bare LF in fields", "bare LF rejected, RFC 9112 §2.2"},
    {"bare LF before body", "bare LF rejected, RFC 9112 §2.2"},
    // Field syntax.
    {"obs-fold", "obs-fold rejected with 400, RFC 9112 §5.2"},
    {"response/obs_fold.http", "obs-fold in a response rejected (502), RFC 9112 §5.2"},
    {"whitespace line after start line", "must be rejected, RFC 9112 §2.2"},
    {"request/smuggle_te_leading_space_line.http",
     "libhttp-parser folds the line into Host and reads no body: a TE.TE desync"},
    {"TE.TE leading space line",
     "libhttp-parser folds the line into Host and reads no body: a TE.TE desync"},
    {"space before colon", "MUST be rejected with 400, RFC 9112 §5.1"},
    {"request/smuggle_te_space.http", "MUST be rejected with 400, RFC 9112 §5.1"},
    {"TE.TE space before colon", "MUST be rejected with 400, RFC 9112 §5.1"},
    // Request line.
    {"request/http09.http", "HTTP/0.9 requests are not supported (no version)"},
    {"HTTP/0.9 request", "HTTP/0.9 requests are not supported (no version)"},
    {"HTTP/0.9 version", "only HTTP/1.x is spoken: 505"},
    {"request/http2_version.http", "only HTTP/1.x is spoken: 505, RFC 9110 §15.6.6"},
    {"HTTP/2.0", "only HTTP/1.x is spoken: 505, RFC 9110 §15.6.6"},
    {"two spaces", "request-line has exactly one SP between parts, RFC 9112 §3"},
    {"high byte in target", "request-target is ASCII (RFC 3986); obs-text is not allowed"},
    {"asterisk for GET", "asterisk-form is only for OPTIONS, RFC 9112 §3.2.4"},
    {"CONNECT origin-form", "CONNECT takes authority-form only, RFC 9112 §3.2.3"},
    // Host.
    {"request/no_host.http", "HTTP/1.1 request without Host MUST get 400, RFC 9112 §3.2"},
    {"missing Host", "HTTP/1.1 request without Host MUST get 400, RFC 9112 §3.2"},
    {"two Hosts", "more than one Host MUST get 400, RFC 9112 §3.2"},
    {"bad Host", "invalid Host field value MUST get 400, RFC 9112 §3.2"},
    // Framing.
    {"request/cl_dup_same.http",
     "identical Content-Length values may be collapsed to one, RFC 9110 §8.6"},
    {"request/smuggle_te_dup.http", "chunked applied twice is invalid, RFC 9112 §7"},
    {"TE.TE duplicated", "chunked applied twice is invalid, RFC 9112 §7"},
    {"request/te_http10.http", "Transfer-Encoding in HTTP/1.0 is faulty framing, RFC 9112 §6.1"},
    {"TE in HTTP/1.0", "Transfer-Encoding in HTTP/1.0 is faulty framing, RFC 9112 §6.1"},
    {"TE.0 chunked in HTTP/1.0", "Transfer-Encoding in HTTP/1.0 is faulty framing, RFC 9112 §6.1"},
    {"response/not_modified.http",
     "a 304 never has a body, whatever its Content-Length says, RFC 9112 §6.3"},
    // Expect.
    {"request/expect_other.http", "unsupported expectation answered 417, RFC 9110 §10.1.1"},
    {"unknown expectation", "unsupported expectation answered 417, RFC 9110 §10.1.1"},
    // Status line.
    {"response/status_99.http", "status-code is 3 digits in 100-599 (we allow up to 999)"},
    {"response/http2.http", "only HTTP/1.x responses are read"},
    {"response/ctl_reason.http", "reason-phrase excludes control characters, RFC 9112 §4"},
};

TEST(Differential, SpindleAgreesWithLibHttpParserOrTheDisagreementIsJustified) {
  std::size_t agreed = 0;
  std::vector<std::string> stale;
  for (const Case& c : all_cases()) {
    const Verdict ours = spindle_verdict(c);
    const Verdict theirs = peer_verdict(c);
    const auto known = kKnownDisagreements.find(c.name);
    if (ours == theirs) {
      ++agreed;
      if (known != kKnownDisagreements.end()) stale.push_back(c.name);
      continue;
    }
    EXPECT_NE(known, kKnownDisagreements.end())
        << "unexplained disagreement on " << c.name << ": spindle " << ours.to_string()
        << ", libhttp-parser " << theirs.to_string();
  }
  EXPECT_TRUE(stale.empty()) << "listed as a disagreement but now agreeing: " << stale[0];
  EXPECT_GT(agreed, 20u);
}

}  // namespace
}  // namespace spindle::http::testing
