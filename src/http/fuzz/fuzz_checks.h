// The invariants both HTTP fuzz targets check on every input, beyond "does not crash": views lie
// inside the input, consumed never exceeds it, statuses are the documented ones, and delivering
// the same bytes whole, one byte at a time or cut anywhere gives the same transcript.
#pragma once

#include <cstddef>
#include <cstdint>

namespace spindle::http::fuzz {

// Aborts (SPINDLE_CHECK) when `data` read as requests (or as responses) breaks an invariant.
void check_stream(const std::uint8_t* data, std::size_t size, bool requests);

}  // namespace spindle::http::fuzz
