// Writing HTTP/1.1 heads: status lines, request lines, field lines (checked so a caller's value
// cannot inject a line), chunk framing, the reason phrase of a status, and the Date field.
// Everything appends to a std::string the connection flushes with one write.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "http/fields.h"
#include "http/message.h"

namespace spindle::http {

// "OK", "Not Found", ...; "" for a status without a standard phrase.
std::string_view reason_phrase(int status);

// True when `name` is a token and `value` holds no CR, LF, NUL or other CTL but HTAB: a field
// line made of them cannot end early or start another field.
bool valid_field(std::string_view name, std::string_view value);

// Appends "HTTP/1.1 200 OK\r\n".
void append_status_line(std::string& out, int status);
// Appends "METHOD target HTTP/1.1\r\n".
void append_request_line(std::string& out, std::string_view method, std::string_view target);
// Appends "name: value\r\n" (not checked: see valid_field).
void append_field(std::string& out, std::string_view name, std::string_view value);
void append_field(std::string& out, std::string_view name, std::uint64_t value);
// Appends "Date: <IMF-fixdate of now>\r\n" (cached per second and thread).
void append_date(std::string& out);
// Appends a chunk-size line: "<hex>\r\n".
void append_chunk_size(std::string& out, std::uint64_t size);

// Whether `name` is one of the fields the writer frames itself: Content-Length,
// Transfer-Encoding, Connection.
bool is_framing_field(std::string_view name);

}  // namespace spindle::http
