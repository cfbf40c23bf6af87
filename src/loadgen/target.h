// Target: one request spindle-load sends (method, URL, headers, body), and the parsers for
// where targets come from: a URL on the command line, or a file in vegeta's "http" targets
// format. Plain http only.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace spindle::loadgen {

struct Target {
  std::string method = "GET";
  std::string address;     // "host:port", what the connection pool dials
  std::string host;        // the Host field: the URL's authority as written
  std::string path = "/";  // request target: path and query
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // "GET 127.0.0.1:8080/path": for reports (no scheme, so a saved page names no URL).
  std::string describe() const;
};

// Parses "http://host[:port][/path][?query]" into t's address, host and path. Errors name
// the problem: "https is not supported", "missing host", "bad port in ...".
base::Result<void, std::string> parse_url(std::string_view url, Target* t);

// Parses "Name: value" (for --header and targets files).
base::Result<std::pair<std::string, std::string>, std::string> parse_header(std::string_view line);

// Vegeta's targets format: blocks separated by blank lines, each "METHOD URL", then header
// lines "Name: value", then optionally "@PATH" (the body, read from PATH). Lines starting with
// '#' are comments. `read_file` loads a body file (so tests need no files). Errors carry the
// line number.
struct FileText {
  std::string text;
};
using ReadFile = base::Result<FileText, std::string> (*)(const std::string& path);
base::Result<std::vector<Target>, std::string> parse_targets(std::string_view text,
                                                             ReadFile read_file);

// Reads a whole file: its contents, or "PATH: strerror".
base::Result<FileText, std::string> read_whole_file(const std::string& path);

}  // namespace spindle::loadgen
