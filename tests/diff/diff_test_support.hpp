// Helpers shared by the diff tests.
#pragma once

#include <string>

#include <gtest/gtest.h>

#include <restorekit/diff/diff.hpp>

namespace restorekit::diff::test_support {

// The table of that name in a diff; a test failure (and an empty table) where there is none.
inline const TableDiff& table(const DatabaseDiff& d, const std::string& name) {
  for (const auto& t : d.tables) {
    if (t.name == name) return t;
  }
  ADD_FAILURE() << "no table " << name;
  static const TableDiff none;
  return none;
}

}  // namespace restorekit::diff::test_support
