// Which documents rows name (private to restore): the profile's `documents.references` columns
// read for chosen tenants or chosen rows. Shared by extract (--tenant, --row).
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <restorekit/core/error.hpp>
#include <restorekit/core/finding.hpp>
#include <restorekit/core/profile.hpp>
#include <restorekit/core/sqlite.hpp>
#include <restorekit/restore/extract.hpp>

namespace restorekit::restore::detail {

struct ReferencedDocuments {
  std::set<std::string> keys;        // name_key of each entry path (root + value), unless sunk
  std::vector<core::Finding> notes;  // reference tables that a choice cannot reach
};

// Where each chosen document's key goes instead of `keys`, for a choice too large to hold
// (a key may come more than once). @error stops the reading.
using KeySink = std::function<Result<void>(const std::string& key)>;

struct ReferenceOptions {
  std::optional<core::TenantSpec> tenant;  // default: the profile's
  // A chosen tenant whose rows name no document is an error (extract: a mistyped id), or just
  // none (a tenant restore: a tenant without documents).
  bool tenant_without_documents_fails = true;
  KeySink sink;  // default: ReferencedDocuments::keys
};

// Reads `db` (untrusted, opened by the caller) for the documents that the chosen tenants' rows
// and the chosen rows name: a row's own reference columns, and those of rows in reference
// tables that point at it through a declared foreign key. `root` prefixes every value.
// @error kInvalidArgument (no references in the profile; a tenant choice without a tenant
// column; a row whose table is unknown or whose key does not fit), kNotFound (no such row, or
// a tenant no reference table holds, unless told otherwise), kDatabase.
[[nodiscard]] Result<ReferencedDocuments> referenced_documents(
    core::Database& db, const core::Profile& profile, const DocumentChoice& choice,
    const std::string& root, const ReferenceOptions& options = {});

}  // namespace restorekit::restore::detail
