#include "values.hpp"

#include <cmath>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include <restorekit/core/safe_path.hpp>

namespace restorekit::diff::detail {

namespace {

using core::ValueType;

int type_rank(ValueType t) {
  switch (t) {
    case ValueType::kNull: return 0;
    case ValueType::kInteger:
    case ValueType::kReal: return 1;
    case ValueType::kText: return 2;
    case ValueType::kBlob: return 3;
  }
  return 0;
}

int compare_bytes(std::span<const std::byte> x, std::span<const std::byte> y) {
  // An empty value may have a null data pointer (SQLite's zero-length blob): memcmp must not see
  // it (found by fuzz_row_encoding).
  std::size_t n = std::min(x.size(), y.size());
  int c = n == 0 ? 0 : std::memcmp(x.data(), y.data(), n);
  if (c != 0) return c < 0 ? -1 : 1;
  return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
}

// Integer against real as SQLite does it: exactly, without losing the integer's low bits.
int compare_int_real(std::int64_t i, double r) {
  if (std::isnan(r)) return 1;
  constexpr double kTwo63 = 9223372036854775808.0;
  if (r >= kTwo63) return -1;
  if (r < -kTwo63) return 1;
  auto truncated = static_cast<std::int64_t>(r);
  if (i != truncated) return i < truncated ? -1 : 1;
  double fraction = r - static_cast<double>(truncated);
  return fraction > 0 ? -1 : fraction < 0 ? 1 : 0;
}

int compare_numbers(const core::Statement& a, int i, const core::Statement& b, int j) {
  ValueType ta = a.column_type(i);
  ValueType tb = b.column_type(j);
  if (ta == ValueType::kInteger && tb == ValueType::kInteger) {
    auto x = a.column_int(i);
    auto y = b.column_int(j);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (ta == ValueType::kReal && tb == ValueType::kReal) {
    double x = a.column_double(i);
    double y = b.column_double(j);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (ta == ValueType::kInteger) return compare_int_real(a.column_int(i), b.column_double(j));
  return -compare_int_real(b.column_int(j), a.column_double(i));
}

// An integral REAL that an int64 holds exactly: it equals that integer.
bool integral(double r, std::int64_t& out) {
  if (!std::isfinite(r) || r != std::trunc(r) || r < -9223372036854775808.0 ||
      r >= 9223372036854775808.0) {
    return false;
  }
  out = static_cast<std::int64_t>(r);
  return true;
}

// SQLite's NOCASE folds ASCII letters only; RTRIM ignores trailing spaces.
int compare_text(std::string_view x, std::string_view y, Collation collation) {
  if (collation == Collation::kRtrim) {
    while (!x.empty() && x.back() == ' ') x.remove_suffix(1);
    while (!y.empty() && y.back() == ' ') y.remove_suffix(1);
  }
  if (collation != Collation::kNocase) {
    return compare_bytes(std::as_bytes(std::span(x)), std::as_bytes(std::span(y)));
  }
  auto fold = [](char c) {
    return static_cast<unsigned char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  };
  for (std::size_t k = 0; k < std::min(x.size(), y.size()); ++k) {
    if (fold(x[k]) != fold(y[k])) return fold(x[k]) < fold(y[k]) ? -1 : 1;
  }
  return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
}

}  // namespace

Collation collation_of(std::string_view name) {
  if (name == "NOCASE") return Collation::kNocase;
  if (name == "RTRIM") return Collation::kRtrim;
  return Collation::kBinary;
}

int compare_columns(const core::Statement& a, int i, const core::Statement& b, int j,
                    Collation collation) {
  int ra = type_rank(a.column_type(i));
  int rb = type_rank(b.column_type(j));
  if (ra != rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 0: return 0;
    case 1: return compare_numbers(a, i, b, j);
    case 2: return compare_text(a.column_text(i), b.column_text(j), collation);
    default: return compare_bytes(a.column_blob(i), b.column_blob(j));
  }
}

namespace {

// A number as it compares for equality: an integral REAL as that integer, any other REAL by its
// bits (so that NaN equals the same NaN, as IS says).
struct Number {
  bool real = false;
  std::int64_t bits = 0;
  bool operator==(const Number&) const = default;
};

Number number(const core::Statement& s, int i, ValueType type) {
  if (type == ValueType::kInteger) return {false, s.column_int(i)};
  double r = s.column_double(i);
  Number n;
  if (!integral(r, n.bits)) {
    n.real = true;
    std::memcpy(&n.bits, &r, sizeof r);
  }
  return n;
}

}  // namespace

bool same_value(const core::Statement& a, int i, const core::Statement& b, int j) {
  ValueType ta = a.column_type(i);
  ValueType tb = b.column_type(j);
  bool na = ta == ValueType::kInteger || ta == ValueType::kReal;
  bool nb = tb == ValueType::kInteger || tb == ValueType::kReal;
  if (na || nb) return na && nb && number(a, i, ta) == number(b, j, tb);
  if (ta != tb) return false;
  switch (ta) {
    case ValueType::kNull: return true;
    case ValueType::kText: return a.column_text(i) == b.column_text(j);
    default: {
      auto x = a.column_blob(i);
      auto y = b.column_blob(j);
      return x.size() == y.size() && (x.empty() || std::memcmp(x.data(), y.data(), x.size()) == 0);
    }
  }
}

std::string literal(const core::Statement& s, int i) {
  constexpr std::size_t kMax = 60;
  switch (s.column_type(i)) {
    case ValueType::kNull: return "NULL";
    case ValueType::kInteger: return std::to_string(s.column_int(i));
    case ValueType::kReal: return fmt::format("{}", s.column_double(i));
    case ValueType::kText: {
      std::string text(s.column_text(i).substr(0, kMax));
      std::string quoted = "'";
      for (char c : text) quoted += c == '\'' ? std::string("''") : std::string(1, c);
      quoted += s.column_text(i).size() > kMax ? "…'" : "'";
      return quoted;
    }
    case ValueType::kBlob: {
      auto b = s.column_blob(i);
      std::string hex;
      for (std::size_t k = 0; k < std::min<std::size_t>(b.size(), kMax / 2); ++k) {
        hex += fmt::format("{:02X}", std::to_integer<unsigned>(b[k]));
      }
      return fmt::format("X'{}{}' ({} bytes)", hex, b.size() > kMax / 2 ? "…" : "", b.size());
    }
  }
  return "NULL";
}

}  // namespace restorekit::diff::detail
