// diff's row comparison and key ordering, as a property test over arbitrary values:
// same_value holds exactly when SQLite's `a IS b` does, and compare_columns is an
// antisymmetric order that agrees with equality.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <restorekit/core/sqlite.hpp>

#include "values.hpp"

using namespace restorekit;

namespace {

struct Value {
  core::ValueType type = core::ValueType::kNull;
  std::int64_t i = 0;
  double d = 0;
  std::string bytes;
};

// Input: a tag byte per value, then its payload.
std::vector<Value> parse(const std::uint8_t* data, std::size_t size) {
  std::vector<Value> out;
  std::size_t pos = 0;
  while (pos < size && out.size() < 8) {
    Value v;
    std::uint8_t tag = data[pos++] % 5;
    auto take = [&](std::size_t n) {
      n = std::min(n, size - pos);
      std::string s(reinterpret_cast<const char*>(data + pos), n);
      pos += n;
      return s;
    };
    switch (tag) {
      case 0: v.type = core::ValueType::kNull; break;
      case 1: {
        v.type = core::ValueType::kInteger;
        auto s = take(8);
        std::memcpy(&v.i, s.data(), s.size());
        break;
      }
      case 2: {
        v.type = core::ValueType::kReal;
        auto s = take(8);
        std::memcpy(&v.d, s.data(), s.size());
        break;
      }
      case 3:
      case 4: {
        v.type = tag == 3 ? core::ValueType::kText : core::ValueType::kBlob;
        std::size_t n = pos < size ? data[pos++] % 16 : 0;
        v.bytes = take(n);
        break;
      }
    }
    out.push_back(std::move(v));
  }
  return out;
}

void bind(core::Statement& st, int index, const Value& v) {
  switch (v.type) {
    case core::ValueType::kNull: st.bind_null(index); break;
    case core::ValueType::kInteger: st.bind(index, v.i); break;
    case core::ValueType::kReal: st.bind(index, v.d); break;
    case core::ValueType::kText: st.bind(index, std::string_view(v.bytes)); break;
    case core::ValueType::kBlob: st.bind_blob(index, std::as_bytes(std::span(v.bytes))); break;
  }
}

int sign(int x) {
  return (x > 0) - (x < 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static auto db = core::Database::open_memory();
  if (!db) return 0;
  auto values = parse(data, size);
  if (values.size() < 2) return 0;
  for (std::size_t a = 0; a + 1 < values.size(); ++a) {
    std::size_t b = a + 1;
    auto st = db->prepare("SELECT ?1, ?2, ?1 IS ?2");
    if (!st) return 0;
    bind(*st, 1, values[a]);
    bind(*st, 2, values[b]);
    auto row = st->step();
    if (!row || !*row) return 0;
    bool is = st->column_int(2) != 0;
    if (diff::detail::same_value(*st, 0, *st, 1) != is) __builtin_trap();
    if (diff::detail::same_value(*st, 1, *st, 0) != is) __builtin_trap();
    int ab = diff::detail::compare_columns(*st, 0, *st, 1);
    int ba = diff::detail::compare_columns(*st, 1, *st, 0);
    if (sign(ab) != -sign(ba)) __builtin_trap();
    (void)diff::detail::literal(*st, 0);
    (void)diff::detail::literal(*st, 1);
  }
  return 0;
}
