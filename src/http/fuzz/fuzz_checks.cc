#include "http/fuzz/fuzz_checks.h"

#include <initializer_list>
#include <string_view>

#include "base/check.h"
#include "http/head_parser.h"
#include "http/transcript.h"

namespace spindle::http::fuzz {
namespace {

bool inside(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

bool is_request_status(int s) {
  for (int ok : {400, 414, 417, 431, 501, 505}) {
    if (s == ok) return true;
  }
  return false;
}

void check_common(const Head& head, std::string_view consumed) {
  for (const Header& h : head.headers) {
    SPINDLE_CHECK(inside(h.name, consumed) && inside(h.value, consumed), "field view outside");
    SPINDLE_CHECK(!h.name.empty(), "empty field name accepted");
  }
  SPINDLE_CHECK(head.headers.size() <= Limits{}.max_header_count, "header count over limit");
  SPINDLE_CHECK(consumed.size() >= 4 && consumed.substr(consumed.size() - 4) == "\r\n\r\n",
                "head does not end with CRLFCRLF");
  for (char c : consumed) SPINDLE_CHECK(c != '\0', "NUL accepted in a head");
}

// One direct parse of the exact input: consumed and every view within bounds.
template <class Parser>
void check_head(std::string_view input) {
  Parser parser;
  const ParseResult r = parser.parse(input);
  if (r.status == ParseStatus::kError) {
    const ParseError& e = parser.error();
    SPINDLE_CHECK(e.reason != nullptr && e.reason[0] != '\0', "error without reason");
    if constexpr (std::is_same_v<Parser, RequestParser>) {
      SPINDLE_CHECK(is_request_status(e.status) && e.side == Side::kClient, e.reason);
    } else {
      SPINDLE_CHECK(e.status == 502 && e.side == Side::kUpstream, e.reason);
    }
    return;
  }
  if (r.status != ParseStatus::kDone) return;
  SPINDLE_CHECK(r.consumed <= input.size(), "consumed beyond the input");
  const std::string_view consumed = input.substr(0, r.consumed);
  const auto& head = parser.head();
  check_common(head, consumed);
  if constexpr (std::is_same_v<Parser, RequestParser>) {
    SPINDLE_CHECK(inside(head.method_token, consumed) && inside(head.target, consumed),
                  "start line view outside");
    SPINDLE_CHECK(!(head.chunked && head.content_length), "request with TE and CL accepted");
    SPINDLE_CHECK(!head.has_transfer_encoding || head.chunked, "request TE without chunked");
  } else {
    SPINDLE_CHECK(inside(head.reason, consumed), "reason view outside");
    SPINDLE_CHECK(head.status >= 100 && head.status <= 999, "status out of range");
  }
}

void check_transcript(const testing::Transcript& t, std::size_t size) {
  std::size_t last = 0;
  for (const testing::MessageRecord& m : t.messages) {
    SPINDLE_CHECK(last < m.head_end && m.head_end <= m.end && m.end <= size,
                  "message boundaries out of order");
    last = m.end;
  }
  if (t.end == testing::StreamEnd::kClean) {
    SPINDLE_CHECK(last == size || t.messages.size() == 64, "clean end before the last byte");
  }
}

}  // namespace

void check_stream(const std::uint8_t* data, std::size_t size, bool requests) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (requests) {
    check_head<RequestParser>(input);
  } else {
    check_head<ResponseParser>(input);
  }
  testing::StreamOptions options;
  options.requests = requests;
  options.request_method = size % 4 == 1 ? Method::kHead : Method::kGet;
  const testing::Transcript whole = testing::read_stream(input, options);
  check_transcript(whole, size);
  const std::string expected = whole.to_string();

  options.piece = 1;
  SPINDLE_CHECK(testing::read_stream(input, options).to_string() == expected,
                "byte-at-a-time transcript differs:\n" + expected);
  options.piece = 0;
  // Every cut for small inputs, a spread of cuts for larger ones.
  const std::size_t step = size <= 512 ? 1 : size / 97 + 1;
  for (std::size_t cut = 1; cut < size; cut += step) {
    options.cuts = {cut};
    SPINDLE_CHECK(testing::read_stream(input, options).to_string() == expected,
                  "transcript differs with a cut at " + std::to_string(cut) + ":\n" + expected);
  }
}

}  // namespace spindle::http::fuzz
