#include "http/parse_error.h"

namespace spindle::http {

const char* to_string(Side side) { return side == Side::kClient ? "client" : "upstream"; }

}  // namespace spindle::http
