#include "catalog_ops.hpp"

#include <restorekit/inspect/inspect.hpp>

namespace restorekit::cli {

namespace {

bool is_damage(ErrorCode code) {
  switch (code) {
    case ErrorCode::kTruncated:
    case ErrorCode::kCorruptData:
    case ErrorCode::kCrcError:
    case ErrorCode::kRatioLimit:
    case ErrorCode::kLimitExceeded:
    case ErrorCode::kEncryptionUnsupported:
    case ErrorCode::kDatabase: return true;
    default: return false;
  }
}

}  // namespace

AddOutcome add_to_catalog(core::Index& index, const std::filesystem::path& archive,
                          const BackupInputs& inputs, std::string* message) {
  std::string key = core::index_key(archive);
  auto fingerprint = core::fingerprint_file(archive);
  if (!fingerprint) {
    if (message) *message = fingerprint.error().message;
    return AddOutcome::kNotABackup;
  }
  if (auto known = index.find(key, *fingerprint); known && *known) return AddOutcome::kUnchanged;
  inspect::InspectOptions o;
  o.reader = inputs.reader;
  o.reader.passwords.prompt = nullptr;  // many archives: never stop to ask
  o.profile = inputs.profile;
  o.index = &index;
  auto report = inspect::inspect(archive, o);
  if (report && !report->incomplete) return AddOutcome::kRead;
  Error why = report ? *report->incomplete : report.error();
  if (message) *message = why.message;
  bool locked = why.code == ErrorCode::kPasswordRequired || why.code == ErrorCode::kBadPassword;
  if (!report && !is_damage(why.code) && !locked) return AddOutcome::kNotABackup;
  // Damaged, or encrypted without a usable password: recorded, so that listings show it.
  core::ArchiveSummary s = report ? report->summary : core::ArchiveSummary{};
  s.path = key;
  s.fingerprint = *fingerprint;
  s.archive_bytes = fingerprint->size;
  s.findings.push_back(core::Finding{std::string(code_name(why.code)), core::Severity::kError,
                                     why.subject, why.message});
  if (!index.put(s)) return AddOutcome::kNotABackup;
  if (!report || locked) {
    auto verdict = locked ? core::Verdict::kLocked : core::Verdict::kDamaged;
    (void)index.record_verification(key, *fingerprint, nullptr,
                                    core::Verification{0, verdict, 1, 0});
  }
  return locked ? AddOutcome::kLocked : AddOutcome::kDamaged;
}

Result<void> record_verify(core::Index& index, const std::filesystem::path& archive,
                           const BackupInputs& inputs, const verify::VerifyReport& report) {
  std::string key = core::index_key(archive);
  RK_TRY_ASSIGN(auto fingerprint, core::fingerprint_file(archive));
  RK_TRY_ASSIGN(auto known, index.find(key, fingerprint));
  if (!known) (void)add_to_catalog(index, archive, inputs);
  RK_TRY_ASSIGN(bool recorded,
                index.record_verification(
                    key, fingerprint, report.listing.get(),
                    core::Verification{0, report.verdict(), report.count(core::Severity::kError),
                                       report.count(core::Severity::kWarning)}));
  if (!recorded) {
    return fail(ErrorCode::kIo, "the archive changed while it was verified; verify it again",
                archive.string());
  }
  return {};
}

}  // namespace restorekit::cli
