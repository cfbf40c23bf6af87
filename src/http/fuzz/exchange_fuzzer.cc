// libFuzzer target: whole exchanges over loopback sockets, with read buffers that start at 64
// bytes and small limits, so short inputs reach every growth and limit path of the
// connection code (the parser fuzzers see the parser alone). Byte 0 of the input chooses the
// direction (bit 0) and how the rest is cut into writes (1 to 128 bytes each):
//   server: the rest is what a client sends to http::Server, as a stream of pipelined
//     requests; the handler reads every body to its end, as the proxy does, and answers. What
//     comes back must be whole, well-formed responses, nothing after one that says
//     "Connection: close".
//   client: the rest is a backend's answer to a request from http::Client (the proxy's
//     client); the response body is read to its end or to an error charged to the backend.
// Nothing a peer sends may reach a check (STYLE.md): a crash here is such a path. Seed corpus:
// corpus/exchange.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/check.h"
#include "http/body_decoder.h"
#include "http/client.h"
#include "http/head_parser.h"
#include "http/server.h"
#include "net/conn.h"
#include "net/listener.h"
#include "runtime/runtime.h"
#include "runtime/sync/wait_group.h"
#include "runtime/time.h"

namespace spindle::http::fuzz {
namespace {

using namespace std::chrono_literals;
using base::Clock;

constexpr std::size_t kBuffer = 64;

Limits small_limits() {
  Limits l;
  l.max_start_line = 256;
  l.max_header_section = 512;
  l.max_header_count = 8;
  l.max_chunk_line = 64;
  l.max_trailer_section = 256;
  return l;
}

// Writes `bytes` to c in pieces of `cut` bytes, then shuts down writing; a peer that closed
// early is not an error here.
void write_in_pieces(net::Conn& c, std::string_view bytes, std::size_t cut) {
  for (std::size_t at = 0; at < bytes.size(); at += cut) {
    if (!c.write(bytes.substr(at, cut))) return;
  }
  (void)c.shutdown(net::ShutdownHow::kWrite);
}

std::string read_to_end(net::Conn& c) {
  std::string out;
  char buf[4096];
  for (;;) {
    auto n = c.read(buf);
    if (!n || *n == 0) return out;
    out.append(buf, *n);
  }
}

// The server side: reads every body like the proxy (a body error is answered with its
// status), answers with the method in X-Method (so the checker knows a HEAD answer has no
// body) and, for /stream, a chunked body.
void handle(Request& r, ResponseWriter& w) {
  const Header fields[] = {{"X-Method", r.method_token()}};
  std::uint64_t n = 0;
  for (;;) {
    auto piece = r.body().next();
    if (!piece) {
      const int status = piece.error().status != 0 ? piece.error().status : 400;
      (void)w.reply(status, "body error\n", fields);
      return;
    }
    if (piece->empty()) break;
    n += piece->size();
  }
  if (r.target() == "/stream") {
    (void)w.write_header(200, fields);
    (void)w.write("got ");
    (void)w.flush();
    (void)w.write(std::to_string(n));
    return;
  }
  (void)w.reply(200, "got " + std::to_string(n), fields);
}

struct Fixture {
  ServerOptions server_options() {
    ServerOptions o;
    o.limits = small_limits();
    o.read_buffer_size = kBuffer;
    o.max_unread_body = 256;
    return o;
  }
  Server server{handle, server_options()};
  net::Listener server_listener;
  net::Listener backend_listener;
  std::string server_address, backend_address;
  // The backend's answer for the exchange in progress and how to cut it; one at a time.
  std::string_view answer;
  std::size_t answer_cut = 1;
  runtime::WaitGroup backend_done;

  Fixture() {
    auto s = net::listen("127.0.0.1:0");
    auto b = net::listen("127.0.0.1:0");
    SPINDLE_CHECK(s && b, "exchange fuzzer: listen on loopback");
    server_listener = std::move(*s);
    backend_listener = std::move(*b);
    server_address = server_listener.address().to_string();
    backend_address = backend_listener.address().to_string();
    runtime::go([this] { (void)server.serve(server_listener); });
    runtime::go([this] { serve_backend(); });
  }

  // Each connection: read the request head, write `answer`, read until the client is done.
  void serve_backend() {
    for (;;) {
      auto c = backend_listener.accept();
      if (!c) continue;
      answer_one(std::move(*c));  // its memory is gone before the exchange counts as done
      backend_done.done();
    }
  }

  void answer_one(net::Conn c) {
    (void)c.set_deadline(Clock::now() + 10s);
    std::string head;
    char buf[4096];
    while (head.find("\r\n\r\n") == std::string::npos) {
      auto n = c.read(buf);
      if (!n || *n == 0) break;
      head.append(buf, *n);
    }
    write_in_pieces(c, answer, answer_cut);
    (void)read_to_end(c);
    (void)c.close();
  }
};

// What the server sent: whole responses, each parsed with the framing its request implies.
void check_responses(std::string_view out) {
  while (!out.empty()) {
    ResponseParser parser(Limits{});
    const ParseResult r = parser.parse(out);
    SPINDLE_CHECK(r.status == ParseStatus::kDone, "the server sent a malformed or cut head");
    const ResponseHead& head = parser.head();
    const Header* method = head.headers.find("X-Method");
    const Method m = method != nullptr && method->value == "HEAD" ? Method::kHead : Method::kGet;
    BodyDecoder body(response_framing(m, head), Side::kUpstream);
    std::size_t at = r.consumed;
    for (;;) {
      DecodeResult d = body.decode(out.substr(at));
      at += d.consumed;
      if (d.status == DecodeStatus::kNeedMore && at == out.size()) d = body.finish_at_eof();
      if (d.status == DecodeStatus::kDone) break;
      SPINDLE_CHECK(d.status == DecodeStatus::kData, "the server sent a malformed or cut body");
    }
    out.remove_prefix(at);
    if (!keep_alive(Method::kGet, head)) {
      SPINDLE_CHECK(out.empty(), "the server sent bytes after Connection: close");
    }
  }
}

void drive_server(Fixture& f, std::string_view input, std::size_t cut) {
  auto c = net::dial(f.server_address, 5s);
  SPINDLE_CHECK(c.ok(), "exchange fuzzer: dial the server");
  (void)c->set_deadline(Clock::now() + 10s);
  runtime::WaitGroup writer;
  writer.add(1);
  runtime::go([&] {
    write_in_pieces(*c, input, cut);
    writer.done();
  });
  const std::string out = read_to_end(*c);
  writer.wait();
  (void)c->close();
  check_responses(out);
  // Each input ends with nothing of it left: the leak check runs between inputs and cannot
  // see into goroutine stacks.
  const auto until = Clock::now() + 10s;
  while (f.server.stats().active > 0) {
    SPINDLE_CHECK(Clock::now() < until, "exchange fuzzer: a server connection outlived its client");
    runtime::sleep_for(100us);
  }
}

void drive_client(Fixture& f, std::string_view input, std::size_t cut) {
  f.answer = input;
  f.answer_cut = cut;
  f.backend_done.add(1);
  {
    ClientOptions o;
    o.limits = small_limits();
    o.read_buffer_size = kBuffer;
    o.response_header_timeout = 10s;
    o.body_read_timeout = 10s;
    Client client(o);
    ClientRequest req;
    req.method = cut % 2 == 0 ? Method::kGet : Method::kHead;
    auto r = client.send(f.backend_address, req);
    if (!r) {
      SPINDLE_CHECK(r.error().side == Side::kUpstream, "a backend's failure charged elsewhere");
    } else {
      for (;;) {
        auto piece = r->body().next();
        if (!piece) {
          SPINDLE_CHECK(piece.error().side == Side::kUpstream,
                        "a backend's body failure charged elsewhere");
          break;
        }
        if (piece->empty()) break;
      }
    }
  }
  f.backend_done.wait();  // the client and its connections are gone: the backend saw EOF
}

}  // namespace
}  // namespace spindle::http::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace spindle;
  if (size == 0) return 0;
  // One runtime and fixture for the whole run, never destroyed (their goroutines park).
  static runtime::Runtime* rt = new runtime::Runtime(runtime::Options{.procs = 2});
  static http::fuzz::Fixture* fixture = nullptr;
  const bool client = (data[0] & 1) != 0;
  const std::size_t cut = (data[0] >> 1) + 1u;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  rt->run([&] {
    if (fixture == nullptr) fixture = new http::fuzz::Fixture();
    if (client) {
      http::fuzz::drive_client(*fixture, input, cut);
    } else {
      http::fuzz::drive_server(*fixture, input, cut);
    }
  });
  return 0;
}
