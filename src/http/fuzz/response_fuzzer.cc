// libFuzzer target: bytes read as a stream of responses (to GET, or HEAD when size % 4 == 1),
// with the invariants of fuzz_checks.h. Seed corpus: corpus/response.
#include <cstddef>
#include <cstdint>

#include "http/fuzz/fuzz_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  spindle::http::fuzz::check_stream(data, size, /*requests=*/false);
  return 0;
}
