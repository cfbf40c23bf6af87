#include "http/transcript.h"

#include <algorithm>
#include <optional>
#include <variant>

#include "http/body_decoder.h"
#include "http/head_parser.h"

namespace spindle::http::testing {
namespace {

std::string describe_common(const Head& head) {
  std::string s = " HTTP/" + std::to_string(head.version.major) + "." +
                  std::to_string(head.version.minor) + "\n";
  for (const Header& h : head.headers) {
    s.append(h.name).append(": ").append(h.value).append("\n");
  }
  if (head.content_length) s += "=content-length " + std::to_string(*head.content_length) + "\n";
  if (head.has_transfer_encoding) s += head.chunked ? "=chunked\n" : "=transfer-encoding\n";
  if (head.connection_close) s += "=close\n";
  if (head.connection_keep_alive) s += "=keep-alive\n";
  if (head.connection_upgrade) s += "=upgrade\n";
  return s;
}

// The connection's buffer: unconsumed bytes only, reallocated at exactly its size on every
// read so that a view kept across reads, or a read past the end, is caught by ASan.
class Connection {
 public:
  Connection(std::string_view bytes, const StreamOptions& options)
      : bytes_(bytes), options_(options) {}

  std::string_view buffered() const { return {buffer_.data(), buffer_.size()}; }
  std::size_t base() const { return base_; }
  bool closed() const { return delivered_ == bytes_.size(); }

  void consume(std::size_t n) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(n));
    base_ += n;
  }

  // Delivers the next piece; false when the peer has closed.
  bool read() {
    if (closed()) return false;
    std::size_t next = bytes_.size();
    if (options_.piece != 0) next = std::min(next, delivered_ + options_.piece);
    for (std::size_t cut : options_.cuts) {
      if (cut > delivered_ && cut < next) next = cut;
    }
    std::vector<char> grown(buffer_.size() + (next - delivered_));
    std::copy(buffer_.begin(), buffer_.end(), grown.begin());
    std::copy(bytes_.begin() + static_cast<std::ptrdiff_t>(delivered_),
              bytes_.begin() + static_cast<std::ptrdiff_t>(next),
              grown.begin() + static_cast<std::ptrdiff_t>(buffer_.size()));
    buffer_.swap(grown);
    delivered_ = next;
    return true;
  }

 private:
  std::string_view bytes_;
  const StreamOptions& options_;
  std::vector<char> buffer_;
  std::size_t base_ = 0;       // stream offset of buffer_[0]
  std::size_t delivered_ = 0;  // stream bytes delivered so far
};

template <class Parser>
class Reader {
 public:
  Reader(std::string_view bytes, const StreamOptions& options)
      : conn_(bytes, options), options_(options), parser_(options.limits) {}

  Transcript run() {
    while (t_.messages.size() < options_.max_messages) {
      if (!read_head()) break;
      if (!read_body()) break;
    }
    return t_;
  }

 private:
  bool stop(StreamEnd end, const ParseError& error = {}) {
    t_.end = end;
    t_.error = error;
    t_.error_at = message_start_;
    return false;
  }

  bool read_head() {
    message_start_ = conn_.base();
    while (true) {
      if (conn_.buffered().empty() && conn_.closed()) return stop(StreamEnd::kClean);
      const ParseResult r = parser_.parse(conn_.buffered());
      if (r.status == ParseStatus::kError) return stop(StreamEnd::kError, parser_.error());
      if (r.status == ParseStatus::kDone) return on_head(r.consumed);
      if (!conn_.read()) return stop(StreamEnd::kIncomplete);
    }
  }

  bool on_head(std::size_t consumed) {
    record_ = MessageRecord{};
    record_.head_end = conn_.base() + consumed;
    const auto& head = parser_.head();
    record_.head = describe(head);
    BodyFraming framing;
    if constexpr (std::is_same_v<Parser, RequestParser>) {
      framing = request_framing(head);
    } else {
      framing = response_framing(options_.request_method, head);
    }
    record_.head += std::string("=framing ") + to_string(framing.kind) + "\n";
    tunnel_ = framing.kind == Framing::kTunnel;
    decoder_.emplace(framing,
                     std::is_same_v<Parser, RequestParser> ? Side::kClient : Side::kUpstream,
                     options_.limits);
    parser_.reset();  // the head views die with the consume below
    conn_.consume(consumed);
    return true;
  }

  bool read_body() {
    if (tunnel_) {
      record_.end = conn_.base();
      t_.messages.push_back(record_);
      return stop(StreamEnd::kTunnel);
    }
    while (true) {
      DecodeResult r = decoder_->decode(conn_.buffered());
      record_.body.append(r.data);
      record_.trailers.append(r.trailers);
      conn_.consume(r.consumed);
      if (r.status == DecodeStatus::kNeedMore) {
        if (conn_.read()) continue;
        r = decoder_->finish_at_eof();
      }
      if (r.status == DecodeStatus::kError) return stop(StreamEnd::kError, decoder_->error());
      if (r.status == DecodeStatus::kDone) {
        record_.end = conn_.base();
        t_.messages.push_back(record_);
        return true;
      }
    }
  }

  Connection conn_;
  const StreamOptions& options_;
  Parser parser_;
  std::optional<BodyDecoder> decoder_;
  MessageRecord record_;
  bool tunnel_ = false;
  std::size_t message_start_ = 0;
  Transcript t_;
};

}  // namespace

std::string describe(const RequestHead& head) {
  return std::string(head.method_token) + " " + std::string(head.target) + describe_common(head) +
         (head.expect_continue ? "=expect-continue\n" : "");
}

std::string describe(const ResponseHead& head) {
  return std::to_string(head.status) + " " + std::string(head.reason) + describe_common(head);
}

std::string Transcript::to_string() const {
  static constexpr const char* kEnds[] = {"clean", "incomplete", "error", "tunnel"};
  std::string s;
  for (const MessageRecord& m : messages) {
    s += "[message head_end=" + std::to_string(m.head_end) + " end=" + std::to_string(m.end) +
         "]\n" + m.head + "body(" + std::to_string(m.body.size()) + ")=" + m.body + "\n";
    if (!m.trailers.empty()) s += "trailers=" + m.trailers + "\n";
  }
  s += std::string("[end ") + kEnds[static_cast<int>(end)];
  if (end == StreamEnd::kError) {
    s +=
        " " + std::to_string(error.status) + " " + error.reason + " at " + std::to_string(error_at);
  }
  return s + "]";
}

Transcript read_stream(std::string_view bytes, const StreamOptions& options) {
  if (options.requests) return Reader<RequestParser>(bytes, options).run();
  return Reader<ResponseParser>(bytes, options).run();
}

}  // namespace spindle::http::testing
