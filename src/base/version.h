// The version of spindle's programs (the CMake project version), for --version and metrics.
#pragma once

#include <string>
#include <string_view>

namespace spindle::base {

std::string_view version();
// "PROGRAM VERSION", what every program's --version prints.
std::string version_line(std::string_view program);

}  // namespace spindle::base
