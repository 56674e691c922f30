// verify_backup BACKUP: verifies a backup with restorekit's library and prints its verdict,
// the version it was built with, and every error found. Exit: 0 intact, 1 not, 2 error.
#include <iostream>

#include <restorekit/core/archive_reader.hpp>
#include <restorekit/core/version.hpp>
#include <restorekit/verify/verify.hpp>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: verify_backup BACKUP\n";
    return 2;
  }
  restorekit::core::ensure_utf8_locale();
  std::cout << "restorekit " << restorekit::core::version() << "\n";
  auto report = restorekit::verify::verify(argv[1], restorekit::verify::VerifyOptions{});
  if (!report) {
    std::cerr << "error: " << report.error().message << "\n";
    return 2;
  }
  std::cout << "verdict: " << restorekit::core::verdict_name(report->verdict()) << "\n";
  std::cout << "entries: " << report->entries << "\n";
  for (const auto& f : report->findings) {
    if (f.severity == restorekit::core::Severity::kError) {
      std::cout << f.code << " " << f.entry << "\n";  // names from a backup: escape them for a
    }                                                 // terminal in a real application
  }
  return report->intact() ? 0 : 1;
}
