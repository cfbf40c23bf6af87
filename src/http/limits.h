// Limits: the bounds the HTTP parser and body decoder enforce on what a peer may send, with the
// status each breach answers (for a backend's response every breach is a 502).
#pragma once

#include <cstddef>

namespace spindle::http {

struct Limits {
  // Request line (or status line), CRLF and any leading empty lines included. Breach: 414.
  std::size_t max_start_line = 8 * 1024;
  // Header section: the field lines and the empty line that ends them. Breach: 431.
  std::size_t max_header_section = 64 * 1024;
  // Field lines in the header section. Breach: 431.
  std::size_t max_header_count = 100;
  // A chunk-size line: size, extensions, CRLF. Breach: 400.
  std::size_t max_chunk_line = 4 * 1024;
  // Trailer section of a chunked body, final CRLF included; its field count is bounded by
  // max_header_count. Breach: 431.
  std::size_t max_trailer_section = 16 * 1024;
};

}  // namespace spindle::http
