#include "loadgen/target.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace spindle::loadgen {

namespace {

using Error = std::string;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c <= ' ' || c >= 127 || std::strchr("\"(),/:;<=>?@[\\]{}", c) != nullptr) return false;
  }
  return true;
}

// The port of an authority "host[:port]" / "[v6][:port]": its text (empty: none).
base::Result<std::string_view, Error> split_port(std::string_view authority,
                                                 std::string_view* host) {
  std::size_t colon = authority.rfind(':');
  std::size_t bracket = authority.rfind(']');
  if (colon == std::string_view::npos || (bracket != std::string_view::npos && colon < bracket)) {
    *host = authority;
    return std::string_view();
  }
  *host = authority.substr(0, colon);
  std::string_view port = authority.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
    return Error("bad port in \"" + std::string(authority) + "\"");
  }
  return port;
}

}  // namespace

std::string Target::describe() const { return method + " " + host + path; }

base::Result<void, std::string> parse_url(std::string_view url, Target* t) {
  if (url.starts_with("https://")) return Error("https is not supported");
  if (!url.starts_with("http://")) {
    return Error("not an http:// URL: \"" + std::string(url) + "\"");
  }
  std::string_view rest = url.substr(7);
  std::size_t slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  std::string path(slash == std::string_view::npos ? "/" : rest.substr(slash));
  if (path.find('#') != std::string::npos) path.resize(path.find('#'));
  if (path.empty() || path.front() == '?') path.insert(0, "/");
  if (authority.find('@') != std::string_view::npos) {
    return Error("user info in URLs is not supported");
  }
  std::string_view host;
  auto port = split_port(authority, &host);
  if (!port) return port.error();
  if (host.empty() || host == "[]") return Error("missing host in \"" + std::string(url) + "\"");
  for (char c : path) {
    if (c <= ' ' || c >= 127) return Error("bad character in path of \"" + std::string(url) + "\"");
  }
  t->host = std::string(authority);
  t->address = std::string(host) + ":" + std::string(port->empty() ? "80" : *port);
  t->path = std::move(path);
  return {};
}

base::Result<std::pair<std::string, std::string>, std::string> parse_header(std::string_view line) {
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    return Error("header \"" + std::string(line) + "\" has no ':'");
  }
  std::string_view name = trim(line.substr(0, colon));
  std::string_view value = trim(line.substr(colon + 1));
  if (!is_token(name)) return Error("bad header name \"" + std::string(name) + "\"");
  for (char c : value) {
    if ((c < ' ' && c != '\t') || c == 127) {
      return Error("bad character in the value of header " + std::string(name));
    }
  }
  return std::pair{std::string(name), std::string(value)};
}

base::Result<std::vector<Target>, std::string> parse_targets(std::string_view text,
                                                             ReadFile read_file) {
  std::vector<Target> out;
  bool in_block = false;
  int line_no = 0;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view raw = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    std::string_view line = trim(raw);
    auto fail = [&](const std::string& why) {
      return Error("line " + std::to_string(line_no) + ": " + why);
    };
    if (line.starts_with("#")) continue;
    if (line.empty()) {
      in_block = false;
      continue;
    }
    if (!in_block) {
      std::size_t space = line.find(' ');
      if (space == std::string_view::npos) return fail("expected \"METHOD URL\"");
      Target t;
      t.method = std::string(line.substr(0, space));
      if (!is_token(t.method)) return fail("bad method \"" + t.method + "\"");
      if (auto r = parse_url(trim(line.substr(space + 1)), &t); !r) return fail(r.error());
      out.push_back(std::move(t));
      in_block = true;
    } else if (line.starts_with("@")) {
      auto body = read_file(std::string(line.substr(1)));
      if (!body) return fail(body.error());
      out.back().body = std::move(body->text);
    } else {
      auto h = parse_header(line);
      if (!h) return fail(h.error());
      out.back().headers.push_back(std::move(*h));
    }
  }
  if (out.empty()) return Error("no targets");
  return out;
}

base::Result<FileText, std::string> read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(path + ": " + std::strerror(errno));
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) return Error(path + ": read error");
  return FileText{s.str()};
}

}  // namespace spindle::loadgen
