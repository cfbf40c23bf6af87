#include "http/head_parser.h"

#include <cstring>
#include <limits>
#include <type_traits>

#include "base/check.h"
#include "http/chars.h"

namespace spindle::http {
namespace {

template <class HeadT>
constexpr bool kIsRequest = std::is_same_v<HeadT, RequestHead>;

// "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 §2.3).
bool parse_version(std::string_view s, Version* v) {
  if (s.size() != 8 || s.substr(0, 5) != "HTTP/" || !chars::is(s[5], chars::kDigit) ||
      s[6] != '.' || !chars::is(s[7], chars::kDigit)) {
    return false;
  }
  v->major = s[5] - '0';
  v->minor = s[7] - '0';
  return true;
}

// scheme ":" (RFC 3986 §3.1): the start of an absolute-form target.
bool starts_with_scheme(std::string_view target) {
  const std::size_t colon = target.find(':');
  if (colon == 0 || colon == std::string_view::npos) return false;
  const char first = chars::to_lower(target[0]);
  if (first < 'a' || first > 'z') return false;
  for (char c : target.substr(1, colon - 1)) {
    if (!chars::is(c, chars::kDigit) && !(chars::to_lower(c) >= 'a' && chars::to_lower(c) <= 'z') &&
        c != '+' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

// The request-target's form must fit the method (RFC 9112 §3.2). nullptr when it does.
const char* check_target(Method method, std::string_view target) {
  if (!chars::all_of(target, chars::kTarget)) return "invalid character in request target";
  if (method == Method::kConnect) {
    // authority-form: host ":" port, nothing else.
    const std::size_t colon = target.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == target.size() ||
        !chars::all_of(target, chars::kHost) ||
        !chars::all_of(target.substr(colon + 1), chars::kDigit)) {
      return "CONNECT needs an authority-form target";
    }
    return nullptr;
  }
  if (target[0] == '/') return nullptr;
  if (target == "*") {
    return method == Method::kOptions ? nullptr : "asterisk-form target is only for OPTIONS";
  }
  if (starts_with_scheme(target)) return nullptr;
  return "invalid request target";
}

// Content-Length = 1*DIGIT, or a list of equal values; nullopt when malformed or too large.
std::optional<std::uint64_t> parse_content_length(std::string_view value) {
  std::optional<std::uint64_t> result;
  while (true) {
    const std::size_t comma = value.find(',');
    const std::string_view element = chars::trim_ows(value.substr(0, comma));
    if (element.empty() || element.size() > 19 || !chars::all_of(element, chars::kDigit)) {
      return std::nullopt;
    }
    std::uint64_t n = 0;
    for (char c : element) n = n * 10 + static_cast<std::uint64_t>(c - '0');
    if (result && *result != n) return std::nullopt;
    result = n;
    if (comma == std::string_view::npos) return result;
    value.remove_prefix(comma + 1);
  }
}

bool is_known_coding(std::string_view coding) {
  return chars::iequals(coding, "gzip") || chars::iequals(coding, "x-gzip") ||
         chars::iequals(coding, "deflate") || chars::iequals(coding, "compress") ||
         chars::iequals(coding, "x-compress");
}

}  // namespace

const char* to_string(ParseStatus status) {
  switch (status) {
    case ParseStatus::kNeedMore:
      return "need more";
    case ParseStatus::kDone:
      return "done";
    case ParseStatus::kError:
      return "error";
  }
  return "?";
}

template <class HeadT>
BasicHeadParser<HeadT>::BasicHeadParser(const Limits& limits) : limits_(limits) {
  SPINDLE_CHECK(
      limits.max_start_line + limits.max_header_section < std::numeric_limits<std::uint32_t>::max(),
      "head limits must fit 32-bit offsets");
}

template <class HeadT>
void BasicHeadParser<HeadT>::reset() {
  state_ = State::kStartLine;
  line_start_ = scanned_ = fields_start_ = consumed_ = bytes_scanned_ = 0;
  spans_.clear();
  headers_.clear();
  host_count_ = chunked_count_ = 0;
  unknown_coding_ = unsupported_expectation_ = false;
  head_ = HeadT{};
  error_ = ParseError{};
}

template <class HeadT>
const HeadT& BasicHeadParser<HeadT>::head() const {
  SPINDLE_CHECK(state_ == State::kDone, "head() before parse() returned kDone");
  return head_;
}

template <class HeadT>
ParseResult BasicHeadParser<HeadT>::parse(std::string_view input) {
  if (state_ == State::kDone) return {ParseStatus::kDone, consumed_};
  if (state_ == State::kError) return {ParseStatus::kError, 0};
  SPINDLE_DCHECK(input.size() >= scanned_, "input shrank between calls");
  const char* data = input.data();
  while (true) {
    // Invariant: line_start_ <= scanned_, and [line_start_, scanned_) holds no LF.
    const void* lf = scanned_ < input.size()
                         ? std::memchr(data + scanned_, '\n', input.size() - scanned_)
                         : nullptr;
    if (lf == nullptr) {
      bytes_scanned_ += input.size() - scanned_;
      scanned_ = input.size();
      if (!need_more_within_limits(input.size())) return {ParseStatus::kError, 0};
      return {ParseStatus::kNeedMore, 0};
    }
    const std::size_t at = static_cast<std::size_t>(static_cast<const char*>(lf) - data);
    bytes_scanned_ += at + 1 - scanned_;
    scanned_ = at + 1;
    if (!on_line(input, at)) return {ParseStatus::kError, 0};
    if (state_ == State::kDone) return {ParseStatus::kDone, consumed_};
  }
}

template <class HeadT>
bool BasicHeadParser<HeadT>::fail(int client_status, const char* reason) {
  state_ = State::kError;
  error_ = make_error(kIsRequest<HeadT> ? Side::kClient : Side::kUpstream, client_status, reason);
  return false;
}

// With no LF in sight, the line being received ends at `size` or later: a limit it would
// break is reported now, exactly as on_line would report it once complete.
template <class HeadT>
bool BasicHeadParser<HeadT>::need_more_within_limits(std::size_t size) {
  if (state_ == State::kStartLine) {
    if (size + 1 > limits_.max_start_line) {
      return fail(414, kIsRequest<HeadT> ? "request line too long" : "status line too long");
    }
  } else if (size + 1 - fields_start_ > limits_.max_header_section) {
    return fail(431, "header section too long");
  }
  return true;
}

template <class HeadT>
bool BasicHeadParser<HeadT>::on_line(std::string_view input, std::size_t lf) {
  const std::size_t end = lf + 1;
  if (state_ == State::kStartLine) {
    if (end > limits_.max_start_line) {
      return fail(414, kIsRequest<HeadT> ? "request line too long" : "status line too long");
    }
  } else if (end - fields_start_ > limits_.max_header_section) {
    return fail(431, "header section too long");
  }
  if (lf == line_start_ || input[lf - 1] != '\r') return fail(400, "bare LF");
  const std::string_view line = input.substr(line_start_, lf - 1 - line_start_);
  line_start_ = end;
  if (state_ == State::kStartLine) {
    // RFC 9112 §2.2: a server ignores empty lines received before the request line.
    if (line.empty() && kIsRequest<HeadT>) return true;
    if (!on_start_line(input, line)) return false;
    state_ = State::kFields;
    fields_start_ = end;
    return true;
  }
  if (line.empty()) return on_end_of_head(input);
  return on_field_line(input, line);
}

template <class HeadT>
bool BasicHeadParser<HeadT>::on_start_line(std::string_view input, std::string_view line) {
  if (line.find('\r') != std::string_view::npos) return fail(400, "bare CR in start line");
  if constexpr (kIsRequest<HeadT>) {
    const std::size_t sp1 = line.find(' ');
    const std::size_t sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp1 == sp2) return fail(400, "malformed request line");
    const std::string_view method = line.substr(0, sp1);
    const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    if (method.empty() || !chars::all_of(method, chars::kToken)) {
      return fail(400, "invalid method");
    }
    if (!parse_version(line.substr(sp2 + 1), &head_.version)) {
      return fail(400, "malformed HTTP version");
    }
    if (head_.version.major != 1) return fail(505, "unsupported HTTP version");
    if (target.empty()) return fail(400, "empty request target");
    head_.method = method_from_token(method);
    if (const char* why = check_target(head_.method, target)) return fail(400, why);
    start_[0] = span_of(input, method);
    start_[1] = span_of(input, target);
  } else {
    // HTTP-version SP 3DIGIT [SP reason-phrase]; a missing SP and reason is tolerated.
    if (line.size() < 12 || !parse_version(line.substr(0, 8), &head_.version) || line[8] != ' ' ||
        !chars::all_of(line.substr(9, 3), chars::kDigit) || (line.size() > 12 && line[12] != ' ')) {
      return fail(502, "malformed status line");
    }
    if (head_.version.major != 1) return fail(502, "unsupported HTTP version");
    head_.status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    if (head_.status < 100) return fail(502, "invalid status code");
    const std::string_view reason = line.size() > 12 ? line.substr(13) : std::string_view();
    if (!chars::all_of(reason, chars::kFieldValue)) {
      return fail(502, "control character in reason phrase");
    }
    start_[2] = span_of(input, reason);
  }
  return true;
}

template <class HeadT>
bool BasicHeadParser<HeadT>::on_field_line(std::string_view input, std::string_view line) {
  if (spans_.size() >= limits_.max_header_count) return fail(431, "too many header fields");
  Header field;
  if (const char* why = parse_field_line(line, &field)) return fail(400, why);
  spans_.push_back({span_of(input, field.name), span_of(input, field.value)});
  return on_known_field(field.name, field.value);
}

// The fields that decide framing, routing and connection handling, checked as they arrive.
template <class HeadT>
bool BasicHeadParser<HeadT>::on_known_field(std::string_view name, std::string_view value) {
  switch (name.size()) {
    case 4:
      if (kIsRequest<HeadT> && chars::iequals(name, "host")) {
        if (++host_count_ > 1) return fail(400, "multiple Host fields");
        if (!chars::all_of(value, chars::kHost)) return fail(400, "invalid Host");
      }
      return true;
    case 6:
      if constexpr (kIsRequest<HeadT>) {
        if (chars::iequals(name, "expect")) {
          if (chars::iequals(value, "100-continue")) {
            head_.expect_continue = true;
          } else {
            unsupported_expectation_ = true;
          }
        }
      }
      return true;
    case 10:
      if (chars::iequals(name, "connection")) {
        for (std::string_view token : TokenList(value)) {
          head_.connection_close |= chars::iequals(token, "close");
          head_.connection_keep_alive |= chars::iequals(token, "keep-alive");
          head_.connection_upgrade |= chars::iequals(token, "upgrade");
        }
      }
      return true;
    case 14:
      return chars::iequals(name, "content-length") ? on_content_length(value) : true;
    case 17:
      return chars::iequals(name, "transfer-encoding") ? on_transfer_encoding(value) : true;
    default:
      return true;
  }
}

// RFC 9110 §8.6: repeated or listed values must agree; anything but digits is malformed.
template <class HeadT>
bool BasicHeadParser<HeadT>::on_content_length(std::string_view value) {
  const std::optional<std::uint64_t> n = parse_content_length(value);
  if (!n) return fail(400, "invalid Content-Length");
  if (head_.content_length && *head_.content_length != *n) {
    return fail(400, "conflicting Content-Length values");
  }
  head_.content_length = n;
  return true;
}

// Codings accumulate over repeated fields (RFC 9110 §5.3); the verdict waits for the end of
// the head (check_framing), since a later field can append a coding after "chunked".
template <class HeadT>
bool BasicHeadParser<HeadT>::on_transfer_encoding(std::string_view value) {
  head_.has_transfer_encoding = true;
  bool any = false;
  for (std::string_view coding : TokenList(value)) {
    if (!chars::all_of(coding, chars::kToken)) return fail(400, "invalid Transfer-Encoding");
    any = true;
    head_.chunked = chars::iequals(coding, "chunked");
    if (head_.chunked) {
      ++chunked_count_;
    } else if (!is_known_coding(coding)) {
      unknown_coding_ = true;
    }
  }
  if (!any) return fail(400, "empty Transfer-Encoding");
  return true;
}

// RFC 9112 §6.1 and §6.3: the framing of the message must be unambiguous.
template <class HeadT>
bool BasicHeadParser<HeadT>::check_framing() {
  if constexpr (kIsRequest<HeadT>) {
    if (head_.version.minor >= 1 && host_count_ == 0) return fail(400, "missing Host");
  }
  if (head_.has_transfer_encoding) {
    if (head_.version.minor == 0) return fail(400, "Transfer-Encoding in an HTTP/1.0 message");
    if (chunked_count_ > 1) return fail(400, "chunked applied more than once");
    if (kIsRequest<HeadT> && unknown_coding_) return fail(501, "unsupported transfer coding");
    if ((kIsRequest<HeadT> || chunked_count_ > 0) && !head_.chunked) {
      return fail(400, "chunked is not the final transfer coding");
    }
    if (head_.content_length) return fail(400, "both Transfer-Encoding and Content-Length");
  }
  if constexpr (kIsRequest<HeadT>) {
    if (head_.version.minor == 0) {
      head_.expect_continue = false;  // RFC 9110 §10.1.1: ignored in HTTP/1.0
    } else if (unsupported_expectation_) {
      return fail(417, "unsupported expectation");
    }
  }
  return true;
}

template <class HeadT>
bool BasicHeadParser<HeadT>::on_end_of_head(std::string_view input) {
  if (!check_framing()) return false;
  const auto view = [&](Span s) { return input.substr(s.begin, s.size); };
  headers_.clear();
  headers_.reserve(spans_.size());
  for (const FieldSpan& f : spans_) headers_.push_back({view(f.name), view(f.value)});
  head_.headers = HeaderList(headers_);
  if constexpr (kIsRequest<HeadT>) {
    head_.method_token = view(start_[0]);
    head_.target = view(start_[1]);
  } else {
    head_.reason = view(start_[2]);
  }
  consumed_ = line_start_;
  state_ = State::kDone;
  return true;
}

template <class HeadT>
typename BasicHeadParser<HeadT>::Span BasicHeadParser<HeadT>::span_of(std::string_view input,
                                                                      std::string_view part) const {
  if (part.empty()) return Span{};
  return Span{static_cast<std::uint32_t>(part.data() - input.data()),
              static_cast<std::uint32_t>(part.size())};
}

template class BasicHeadParser<RequestHead>;
template class BasicHeadParser<ResponseHead>;

}  // namespace spindle::http
