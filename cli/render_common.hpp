// What the renderers share with each other and with the C API (capi/), which returns the same
// JSON documents the CLI prints: an error as JSON, a document as text, byte counts for people.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <restorekit/core/error.hpp>

namespace restorekit::cli {

// {"code": "BAD_PASSWORD", "message": ..., "subject": ...}
nlohmann::ordered_json error_json(const Error& error);

// A document as the CLI prints it (indent 2; invalid UTF-8 from archive names replaced, not
// fatal), without a final newline.
std::string json_text(const nlohmann::ordered_json& doc);

// Writes `doc` as json_text does, and a newline, with each array's top-level member `key`
// (added last where `doc` has none) an array whose elements `each` hands to its emitter one at
// a time, printed as they come, so that a listing of millions of entries is never a document in
// memory. The text is the same as json_text of the whole document. @error the first error an
// `each` returns (that array then ends where it stopped, and the arrays after it are empty).
using JsonEmit = std::function<void(const nlohmann::ordered_json&)>;
struct StreamedArray {
  std::string key;
  std::function<Result<void>(const JsonEmit&)> each;
};
Result<void> write_json_with_arrays(nlohmann::ordered_json doc,
                                    const std::vector<StreamedArray>& arrays, std::ostream& out);
// The same with one array.
Result<void> write_json_with_array(nlohmann::ordered_json doc, const std::string& key,
                                   const std::function<Result<void>(const JsonEmit&)>& each,
                                   std::ostream& out);

// "1.2 MB", "512 B" (decimal units, as file managers show).
std::string human_bytes(std::uint64_t bytes);
// "12,345"
std::string grouped(std::uint64_t n);
// "2026-12-03 05:10" (UTC) for seconds since the epoch; "unknown" for 0 or less.
std::string utc_minute(std::int64_t seconds);

}  // namespace restorekit::cli
