#include "http/parse_error.h"

namespace spindle::http {

const char* to_string(Side side) {
  switch (side) {
    case Side::kClient:
      return "client";
    case Side::kUpstream:
      return "upstream";
    case Side::kInternal:
      return "internal";
  }
  return "?";
}

}  // namespace spindle::http
