#include "base/version.h"

namespace spindle::base {

std::string_view version() { return SPINDLE_VERSION; }

std::string version_line(std::string_view program) {
  return std::string(program) + " " + std::string(version());
}

}  // namespace spindle::base
