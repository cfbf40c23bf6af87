// libFuzzer target: bytes read as a stream of pipelined requests (head parser + body decoder),
// with the invariants of fuzz_checks.h. Seed corpus: corpus/request.
#include <cstddef>
#include <cstdint>

#include "http/fuzz/fuzz_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  spindle::http::fuzz::check_stream(data, size, /*requests=*/true);
  return 0;
}
