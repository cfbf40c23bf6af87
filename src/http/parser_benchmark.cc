// Parser throughput on a realistic pipelined mix of requests (browser-like GETs with ~12
// fields, API POSTs with small JSON bodies, tiny wrk-style GETs): spindle's RequestParser +
// BodyDecoder against libhttp-parser in the same binary. Both collect views of the method,
// target, every field and the body. Bytes/s and requests/s (items); no argument.
#include <benchmark/benchmark.h>
#include <http_parser.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/check.h"
#include "http/body_decoder.h"
#include "http/head_parser.h"

namespace spindle::http {
namespace {

const char kBrowserGet[] =
    "GET /articles/2024/05/how-schedulers-work?utm_source=feed&ref=home HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Referer: https://www.example.com/\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=8f14e45fceea167a5a36dedd4bea2543; theme=dark; consent=1\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "Priority: u=0, i\r\n"
    "\r\n";

const char kApiPost[] =
    "POST /api/v2/orders HTTP/1.1\r\n"
    "Host: api.example.com\r\n"
    "Content-Type: application/json\r\n"
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl\r\n"
    "Accept: application/json\r\n"
    "X-Request-Id: 3b2f6c1e-9d4a-4f7e-8a21-5c0d9e6b7f10\r\n"
    "Content-Length: 90\r\n"
    "\r\n"
    "{\"customer\":1842,\"items\":[{\"sku\":\"A-1001\",\"qty\":2},{\"sku\":\"B-2002\",\"qty\":1}],"
    "\"rush\":false}";

const char kWrkGet[] = "GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n";

struct Mix {
  std::string bytes;
  std::size_t requests = 0;
};

// 10 requests per round: 4 browser GETs, 3 API POSTs, 3 wrk GETs, repeated 30 times.
Mix make_mix() {
  Mix mix;
  for (int round = 0; round < 30; ++round) {
    for (const char* r : {kBrowserGet, kApiPost, kWrkGet, kBrowserGet, kApiPost, kWrkGet,
                          kBrowserGet, kApiPost, kWrkGet, kBrowserGet}) {
      mix.bytes += r;
      ++mix.requests;
    }
  }
  return mix;
}

void BM_Spindle(benchmark::State& state) {
  const Mix mix = make_mix();
  RequestParser parser;
  std::size_t fields = 0;
  for (auto _ : state) {
    std::string_view in = mix.bytes;
    std::size_t n = 0;
    while (!in.empty()) {
      const ParseResult r = parser.parse(in);
      SPINDLE_CHECK(r.status == ParseStatus::kDone, parser.error().reason);
      const RequestHead& head = parser.head();
      fields += head.headers.size();
      benchmark::DoNotOptimize(head.target.data());
      in.remove_prefix(r.consumed);
      BodyDecoder body(request_framing(head), Side::kClient);
      while (true) {
        const DecodeResult d = body.decode(in);
        benchmark::DoNotOptimize(d.data.data());
        in.remove_prefix(d.consumed);
        if (d.status == DecodeStatus::kDone) break;
        SPINDLE_CHECK(d.status == DecodeStatus::kData, "unexpected body status");
      }
      parser.reset();
      ++n;
    }
    SPINDLE_CHECK(n == mix.requests, "wrong request count");
  }
  benchmark::DoNotOptimize(fields);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * mix.bytes.size()));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * mix.requests));
}
BENCHMARK(BM_Spindle);

// libhttp-parser, with callbacks that keep the same views spindle hands out.
struct PeerSink {
  std::string_view url;
  std::vector<std::string_view> names, values;
  std::string_view body;
  std::size_t messages = 0;
};

PeerSink* sink(http_parser* p) { return static_cast<PeerSink*>(p->data); }

int peer_on_url(http_parser* p, const char* at, std::size_t n) {
  sink(p)->url = {at, n};
  return 0;
}
int peer_on_field(http_parser* p, const char* at, std::size_t n) {
  sink(p)->names.emplace_back(at, n);
  return 0;
}
int peer_on_value(http_parser* p, const char* at, std::size_t n) {
  sink(p)->values.emplace_back(at, n);
  return 0;
}
int peer_on_body(http_parser* p, const char* at, std::size_t n) {
  sink(p)->body = {at, n};
  return 0;
}
int peer_on_complete(http_parser* p) {
  ++sink(p)->messages;
  sink(p)->names.clear();
  sink(p)->values.clear();
  return 0;
}

void BM_HttpParser(benchmark::State& state) {
  const Mix mix = make_mix();
  http_parser_settings settings;
  http_parser_settings_init(&settings);
  settings.on_url = peer_on_url;
  settings.on_header_field = peer_on_field;
  settings.on_header_value = peer_on_value;
  settings.on_body = peer_on_body;
  settings.on_message_complete = peer_on_complete;
  PeerSink out;
  out.names.reserve(64);
  out.values.reserve(64);
  for (auto _ : state) {
    http_parser parser;
    http_parser_init(&parser, HTTP_REQUEST);
    parser.data = &out;
    out.messages = 0;
    const std::size_t n =
        http_parser_execute(&parser, &settings, mix.bytes.data(), mix.bytes.size());
    SPINDLE_CHECK(n == mix.bytes.size() && out.messages == mix.requests, "peer parse failed");
    benchmark::DoNotOptimize(out.url.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * mix.bytes.size()));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * mix.requests));
}
BENCHMARK(BM_HttpParser);

}  // namespace
}  // namespace spindle::http

BENCHMARK_MAIN();
