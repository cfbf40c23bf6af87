#include "http/body_decoder.h"

#include <algorithm>
#include <cstring>

#include "http/chars.h"
#include "http/fields.h"

namespace spindle::http {
namespace {

constexpr std::size_t kMaxChunkSizeDigits = 16;  // 64 bits; leading zeros count too

// *( BWS ";" BWS ext-name [ BWS "=" BWS ( token / quoted-string ) ] ) (RFC 9112 §7.1.1).
const char* check_chunk_extensions(std::string_view s) {
  std::size_t i = 0;
  const auto skip_ows = [&] {
    while (i < s.size() && chars::is_ows(s[i])) ++i;
  };
  const auto skip_token = [&] {
    const std::size_t from = i;
    while (i < s.size() && chars::is(s[i], chars::kToken)) ++i;
    return i > from;
  };
  while (i < s.size()) {
    skip_ows();
    if (i == s.size() || s[i] != ';') return "invalid chunk extension";
    ++i;
    skip_ows();
    if (!skip_token()) return "invalid chunk extension";
    const std::size_t after_name = i;
    skip_ows();
    if (i == s.size() || s[i] != '=') {
      i = after_name;
      continue;
    }
    ++i;
    skip_ows();
    if (i < s.size() && s[i] == '"') {
      for (++i;; ++i) {
        if (i == s.size()) return "unterminated quoted string in chunk extension";
        if (s[i] == '"') break;
        chars::Class allowed = chars::kQuoted;
        if (s[i] == '\\') {  // quoted-pair
          allowed = chars::kFieldValue;
          if (++i == s.size()) return "unterminated quoted string in chunk extension";
        }
        if (!chars::is(s[i], allowed)) return "invalid chunk extension";
      }
      ++i;
    } else if (!skip_token()) {
      return "invalid chunk extension";
    }
  }
  return nullptr;
}

}  // namespace

const char* to_string(DecodeStatus status) {
  switch (status) {
    case DecodeStatus::kNeedMore:
      return "need more";
    case DecodeStatus::kData:
      return "data";
    case DecodeStatus::kDone:
      return "done";
    case DecodeStatus::kError:
      return "error";
  }
  return "?";
}

BodyDecoder::BodyDecoder(BodyFraming framing, Side side, const Limits& limits)
    : side_(side), limits_(limits), remaining_(framing.length) {
  switch (framing.kind) {
    case Framing::kNone:
      state_ = State::kDone;
      break;
    case Framing::kContentLength:
      state_ = State::kLength;
      break;
    case Framing::kChunked:
      state_ = State::kChunkLine;
      break;
    case Framing::kUntilClose:
    case Framing::kTunnel:
      state_ = State::kUntilClose;
      break;
  }
}

DecodeResult BodyDecoder::decode(std::string_view input) {
  switch (state_) {
    case State::kLength: {
      if (remaining_ == 0) {
        state_ = State::kDone;
        return {DecodeStatus::kDone, 0, {}, {}};
      }
      if (input.empty()) return {DecodeStatus::kNeedMore, 0, {}, {}};
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, input.size()));
      remaining_ -= n;
      return {DecodeStatus::kData, n, input.substr(0, n), {}};
    }
    case State::kUntilClose:
      if (input.empty()) return {DecodeStatus::kNeedMore, 0, {}, {}};
      return {DecodeStatus::kData, input.size(), input, {}};
    case State::kDone:
      return {DecodeStatus::kDone, 0, {}, {}};
    case State::kError:
      return {DecodeStatus::kError, 0, {}, {}};
    default:
      return decode_chunked(input);
  }
}

DecodeResult BodyDecoder::finish_at_eof() {
  if (state_ == State::kError) return {DecodeStatus::kError, 0, {}, {}};
  if (state_ == State::kUntilClose || state_ == State::kDone) {
    state_ = State::kDone;
    return {DecodeStatus::kDone, 0, {}, {}};
  }
  return fail(400, "connection closed before end of body");
}

DecodeResult BodyDecoder::fail(int client_status, const char* reason) {
  state_ = State::kError;
  error_ = make_error(side_, client_status, reason);
  return {DecodeStatus::kError, 0, {}, {}};
}

DecodeResult BodyDecoder::need_more(std::size_t consumed, std::size_t size) {
  scanned_ = size - consumed;
  return {DecodeStatus::kNeedMore, consumed, {}, {}};
}

DecodeResult BodyDecoder::decode_chunked(std::string_view input) {
  const char* data = input.data();
  const std::size_t size = input.size();
  std::size_t pos = 0;
  while (true) {
    switch (state_) {
      case State::kChunkLine: {
        // scanned_ counts from pos, which is 0 whenever scanned_ is non-zero.
        const std::size_t from = pos + scanned_;
        const void* lf = from < size ? std::memchr(data + from, '\n', size - from) : nullptr;
        if (lf == nullptr) {
          if (size - pos + 1 > limits_.max_chunk_line) return fail(400, "chunk line too long");
          return need_more(pos, size);
        }
        const std::size_t at = static_cast<std::size_t>(static_cast<const char*>(lf) - data);
        scanned_ = 0;
        if (at + 1 - pos > limits_.max_chunk_line) return fail(400, "chunk line too long");
        if (at == pos || data[at - 1] != '\r') return fail(400, "bare LF in chunk line");
        if (const char* why = on_chunk_line(input.substr(pos, at - 1 - pos))) {
          return fail(400, why);
        }
        pos = at + 1;
        break;
      }
      case State::kChunkData: {
        if (pos == size) return {DecodeStatus::kNeedMore, pos, {}, {}};
        const std::size_t n =
            static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, size - pos));
        remaining_ -= n;
        if (remaining_ == 0) state_ = State::kChunkDataEnd;
        return {DecodeStatus::kData, pos + n, input.substr(pos, n), {}};
      }
      case State::kChunkDataEnd: {
        const std::size_t avail = size - pos;
        if ((avail >= 1 && data[pos] != '\r') || (avail >= 2 && data[pos + 1] != '\n')) {
          return fail(400, "missing CRLF after chunk data");
        }
        if (avail < 2) return {DecodeStatus::kNeedMore, pos, {}, {}};
        pos += 2;
        state_ = State::kChunkLine;
        break;
      }
      case State::kTrailers:
        return on_trailers(input, pos);
      default:
        return fail(500, "body decoder in an impossible state");
    }
  }
}

const char* BodyDecoder::on_chunk_line(std::string_view line) {
  std::size_t digits = 0;
  while (digits < line.size() && chars::is(line[digits], chars::kHex)) ++digits;
  if (digits == 0) return "invalid chunk size";
  if (digits > kMaxChunkSizeDigits) return "chunk size too long";
  std::uint64_t n = 0;
  for (char c : line.substr(0, digits)) {
    n = (n << 4) | static_cast<std::uint64_t>(chars::hex_value(c));
  }
  if (const char* why = check_chunk_extensions(line.substr(digits))) return why;
  remaining_ = n;
  state_ = n == 0 ? State::kTrailers : State::kChunkData;
  line_start_ = 0;
  trailer_count_ = 0;
  return nullptr;
}

// The trailer section is consumed whole, so that `trailers` can be one view; a partial one is
// left in the input, with the checked lines and the scan position remembered.
DecodeResult BodyDecoder::on_trailers(std::string_view input, std::size_t start) {
  const char* data = input.data();
  const std::size_t size = input.size();
  std::size_t line = start + line_start_;
  std::size_t scan = std::max(line, start + scanned_);
  while (true) {
    const void* lf = scan < size ? std::memchr(data + scan, '\n', size - scan) : nullptr;
    if (lf == nullptr) {
      if (size - start + 1 > limits_.max_trailer_section) {
        return fail(431, "trailer section too long");
      }
      line_start_ = line - start;
      return need_more(start, size);
    }
    const std::size_t at = static_cast<std::size_t>(static_cast<const char*>(lf) - data);
    scan = at + 1;
    if (at + 1 - start > limits_.max_trailer_section) return fail(431, "trailer section too long");
    if (at == line || data[at - 1] != '\r') return fail(400, "bare LF in trailer section");
    const std::string_view field_line = input.substr(line, at - 1 - line);
    line = at + 1;
    if (field_line.empty()) {
      state_ = State::kDone;
      return {DecodeStatus::kDone, line, {}, input.substr(start, at - 1 - start)};
    }
    if (++trailer_count_ > limits_.max_header_count) return fail(431, "too many trailer fields");
    Header field;
    if (const char* why = parse_field_line(field_line, &field)) return fail(400, why);
    // Framing is settled by the header section; a trailer that tries to reframe the message
    // is a smuggling attempt or a broken sender (RFC 9110 6.5.1, RFC 9112 7.1.2).
    if (chars::iequals(field.name, "Content-Length") ||
        chars::iequals(field.name, "Transfer-Encoding")) {
      return fail(400, "framing field in trailer section");
    }
  }
}

}  // namespace spindle::http
