// Renders a verify report: text (verdict line first, then findings by severity), JSON
// ("restorekit.verify/1") and JUnit XML (a test case per check and per database).
#pragma once

#include <ostream>

#include <nlohmann/json.hpp>

#include <restorekit/verify/verify.hpp>

namespace restorekit::cli {

void render_verify_text(const verify::VerifyReport& report, std::ostream& out);
nlohmann::ordered_json verify_json(const verify::VerifyReport& report);
void render_verify_junit(const verify::VerifyReport& report, std::ostream& out);
// The JUnit report of a verify that could not run at all (exit 2): one case, one error.
void render_verify_junit_error(const std::string& path, const Error& error, std::ostream& out);

// Findings by severity (errors, then warnings, then info), one line each; and as JSON objects
// {code, severity, entry, message}. Shared by every command that reports findings.
void render_findings_text(const std::vector<core::Finding>& findings, std::ostream& out);
nlohmann::ordered_json findings_json(const std::vector<core::Finding>& findings);

}  // namespace restorekit::cli
