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

int compare_numbers(const core::Cell& a, const core::Cell& b) {
  if (a.type == ValueType::kInteger && b.type == ValueType::kInteger) {
    return a.integer < b.integer ? -1 : a.integer > b.integer ? 1 : 0;
  }
  if (a.type == ValueType::kReal && b.type == ValueType::kReal) {
    return a.real < b.real ? -1 : a.real > b.real ? 1 : 0;
  }
  if (a.type == ValueType::kInteger) return compare_int_real(a.integer, b.real);
  return -compare_int_real(b.integer, a.real);
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

int compare_columns(const core::Cell& a, const core::Cell& b, Collation collation) {
  int ra = type_rank(a.type);
  int rb = type_rank(b.type);
  if (ra != rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 0: return 0;
    case 1: return compare_numbers(a, b);
    case 2: return compare_text(a.text(), b.text(), collation);
    default: return compare_bytes(a.bytes, b.bytes);
  }
}

int compare_columns(const core::Statement& a, int i, const core::Statement& b, int j,
                    Collation collation) {
  return compare_columns(a.cell(i), b.cell(j), collation);
}

namespace {

// A number as it compares for equality: an integral REAL as that integer, any other REAL by its
// bits (so that NaN equals the same NaN, as IS says).
struct Number {
  bool real = false;
  std::int64_t bits = 0;
  bool operator==(const Number&) const = default;
};

Number number(const core::Cell& c) {
  if (c.type == ValueType::kInteger) return {false, c.integer};
  Number n;
  if (!integral(c.real, n.bits)) {
    n.real = true;
    std::memcpy(&n.bits, &c.real, sizeof c.real);
  }
  return n;
}

}  // namespace

bool same_value(const core::Cell& a, const core::Cell& b) {
  bool na = a.type == ValueType::kInteger || a.type == ValueType::kReal;
  bool nb = b.type == ValueType::kInteger || b.type == ValueType::kReal;
  if (na || nb) return na && nb && number(a) == number(b);
  if (a.type != b.type) return false;
  if (a.type == ValueType::kNull) return true;
  // Text and blobs byte for byte (an empty value may have no data pointer: memcmp must not see
  // it).
  return a.bytes.size() == b.bytes.size() &&
         (a.bytes.empty() || std::memcmp(a.bytes.data(), b.bytes.data(), a.bytes.size()) == 0);
}

bool same_value(const core::Statement& a, int i, const core::Statement& b, int j) {
  return same_value(a.cell(i), b.cell(j));
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
