#include "http/wire_format.h"

#include <time.h>

#include <charconv>
#include <cstring>

#include "http/chars.h"

namespace spindle::http {

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 417:
      return "Expectation Failed";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "";
  }
}

bool valid_field(std::string_view name, std::string_view value) {
  return !name.empty() && chars::all_of(name, chars::kToken) && chars::is_field_value(value);
}

namespace {

void append_decimal(std::string& out, std::uint64_t v) {
  char digits[24];
  auto r = std::to_chars(digits, digits + sizeof digits, v);
  out.append(digits, r.ptr);
}

}  // namespace

void append_status_line(std::string& out, int status) {
  out += "HTTP/1.1 ";
  append_decimal(out, static_cast<std::uint64_t>(status));
  out += ' ';
  out += reason_phrase(status);
  out += "\r\n";
}

void append_request_line(std::string& out, std::string_view method, std::string_view target) {
  out += method;
  out += ' ';
  out += target;
  out += " HTTP/1.1\r\n";
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

void append_field(std::string& out, std::string_view name, std::uint64_t value) {
  out += name;
  out += ": ";
  append_decimal(out, value);
  out += "\r\n";
}

void append_date(std::string& out) {
  // Thread-local cache: this function never parks, so the goroutine cannot migrate inside it.
  thread_local time_t cached_second = 0;
  thread_local char cached[40];
  thread_local std::size_t cached_len = 0;
  timespec now;
  clock_gettime(CLOCK_REALTIME_COARSE, &now);
  if (now.tv_sec != cached_second) {
    tm t;
    gmtime_r(&now.tv_sec, &t);
    cached_len = strftime(cached, sizeof cached, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &t);
    cached_second = now.tv_sec;
  }
  out.append(cached, cached_len);
}

void append_chunk_size(std::string& out, std::uint64_t size) {
  char digits[24];
  auto r = std::to_chars(digits, digits + sizeof digits, size, 16);
  out.append(digits, r.ptr);
  out += "\r\n";
}

bool is_framing_field(std::string_view name) {
  return chars::iequals(name, "Content-Length") || chars::iequals(name, "Transfer-Encoding") ||
         chars::iequals(name, "Connection");
}

}  // namespace spindle::http
