// Result<T, E>: a value or an error, for failures that are returned rather than thrown
// (STYLE.md, "Errors"). A small stand-in for C++23's std::expected; Result<void, E> carries
// only the error. Reading the wrong side is a broken invariant and aborts with a check.
#pragma once

#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "base/check.h"

namespace spindle::base {

template <typename T, typename E>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<std::decay_t<T>, std::decay_t<E>>, "T and E must differ");

 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
  Result(E error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    SPINDLE_CHECK(ok(), "value() of a Result holding an error");
    return *std::get_if<0>(&v_);
  }
  const T& value() const& {
    SPINDLE_CHECK(ok(), "value() of a Result holding an error");
    return *std::get_if<0>(&v_);
  }
  T&& value() && {
    SPINDLE_CHECK(ok(), "value() of a Result holding an error");
    return std::move(*std::get_if<0>(&v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const E& error() const {
    SPINDLE_CHECK(!ok(), "error() of a Result holding a value");
    return *std::get_if<1>(&v_);
  }

 private:
  std::variant<T, E> v_;
};

template <typename E>
class [[nodiscard]] Result<void, E> {
 public:
  Result() = default;                            // success
  Result(E error) : error_(std::move(error)) {}  // NOLINT: implicit

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const E& error() const {
    SPINDLE_CHECK(!ok(), "error() of a Result holding a value");
    return *error_;
  }

 private:
  std::optional<E> error_;
};

}  // namespace spindle::base
