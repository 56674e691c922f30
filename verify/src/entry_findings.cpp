#include "entry_findings.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include <fmt/format.h>

#include "name_checks.hpp"

namespace restorekit::verify::detail {

using core::Finding;
using core::Severity;

namespace {

// Encrypted entries that could not be read, by code: how many, and the first one's name.
using Locked = std::map<ErrorCode, std::pair<std::uint64_t, std::string>>;

bool password_error(ErrorCode c) {
  return c == ErrorCode::kPasswordRequired || c == ErrorCode::kBadPassword;
}

void data_findings(const EntryResult& e, const PassFindings& pass, Locked& locked,
                   std::vector<Finding>& out) {
  if (!e.data_read || e.fatal || (e.data_error && pass.was_reported(e.data_error->message))) {
    return;
  }
  if (e.data_error) {
    auto code = e.data_error->code;
    if (password_error(code)) {
      auto& agg = locked[code];
      if (agg.first++ == 0) agg.second = e.path;
    } else {
      out.push_back(Finding{is_operational(code) ? "CORRUPT_DATA" : finding_code(code),
                            Severity::kError, e.path, e.data_error->message});
    }
    return;
  }
  if (e.declared_size && *e.declared_size != e.bytes) {
    out.push_back(Finding{"SIZE_MISMATCH", Severity::kError, e.path,
                          fmt::format("entry \"{}\" declares {} bytes but holds {}", e.path,
                                      *e.declared_size, e.bytes)});
  }
}

}  // namespace

std::string finding_code(ErrorCode code) {
  switch (code) {
    case ErrorCode::kCrcError: return "CRC_ERROR";
    case ErrorCode::kTruncated: return "TRUNCATED";
    case ErrorCode::kPasswordRequired: return "PASSWORD_REQUIRED";
    case ErrorCode::kBadPassword: return "BAD_PASSWORD";
    case ErrorCode::kRatioLimit: return "RATIO_LIMIT";
    case ErrorCode::kLimitExceeded: return "LIMIT_EXCEEDED";
    case ErrorCode::kUnsafePath: return "UNSAFE_PATH";
    case ErrorCode::kUnsafeLink: return "UNSAFE_LINK";
    case ErrorCode::kEncryptionUnsupported: return "ENCRYPTION_UNSUPPORTED";
    default: return "CORRUPT_DATA";
  }
}

Result<void> PassFindings::damage(const Error& e, const std::string& entry) {
  if (is_operational(e.code)) return tl::unexpected(e);
  if (!reported_.insert(e.message).second) return {};
  findings_.push_back(Finding{finding_code(e.code), Severity::kError, entry, e.message});
  return {};
}

void PassFindings::retract(const std::string& message) {
  std::erase_if(findings_, [&](const Finding& f) { return f.message.rfind(message, 0) == 0; });
  reported_.erase(message);
}

bool classify_encrypted(std::vector<EntryResult>& notable, std::uint64_t decrypted,
                        bool password_given, PassFindings& pass, LeftOut& left_out) {
  std::vector<EntryResult*> failed;
  for (auto& e : notable) {
    if (e.encrypted && e.data_read && e.data_error) failed.push_back(&e);
  }
  auto& uncounted = left_out.encrypted;
  bool locked =
      std::any_of(failed.begin(), failed.end(),
                  [](const EntryResult* e) { return password_error(e->data_error->code); }) ||
      std::any_of(uncounted.begin(), uncounted.end(),
                  [](const auto& c) { return password_error(c.first); });
  if (decrypted > 0 || (failed.empty() && uncounted.empty())) return locked;
  auto code = password_given ? ErrorCode::kBadPassword : ErrorCode::kPasswordRequired;
  for (auto* e : failed) {
    if (password_error(e->data_error->code)) continue;
    pass.retract(e->data_error->message);
    e->data_error->code = code;
    e->fatal = false;
  }
  std::uint64_t moved = 0;
  std::erase_if(uncounted, [&](const auto& c) {
    if (password_error(c.first)) return false;
    moved += c.second;
    return true;
  });
  if (moved > 0) uncounted[code] += moved;
  return true;
}

void tally_left_out(const EntryResult& e, LeftOut& left_out) {
  auto count = [&](std::string code, Severity severity) {
    ++left_out.by_code[{std::move(code), severity}];
  };
  if (e.problem) {
    bool unreadable_link =
        e.problem->code == ErrorCode::kEncryptionUnsupported && e.type == core::EntryType::kSymlink;
    count(finding_code(e.problem->code), unreadable_link ? Severity::kWarning : Severity::kError);
  }
  if (e.too_long) count("NOT_RESTORABLE_HERE", Severity::kWarning);
  if (!e.data_read || e.fatal) return;
  if (e.data_error && e.encrypted) {
    ++left_out.encrypted[e.data_error->code];
  } else if (e.data_error) {
    auto code = e.data_error->code;
    count(is_operational(code) ? "CORRUPT_DATA" : finding_code(code), Severity::kError);
  } else if (e.declared_size && *e.declared_size != e.bytes) {
    count("SIZE_MISMATCH", Severity::kError);
  }
}

void merge_left_out(const LeftOut& from, LeftOut& into) {
  for (const auto& [k, n] : from.by_code) into.by_code[k] += n;
  for (const auto& [k, n] : from.encrypted) into.encrypted[k] += n;
}

void limit_damaged(std::vector<EntryResult>& notable, LeftOut& left_out) {
  std::uint64_t kept = 0;
  std::erase_if(notable, [&](const EntryResult& e) {
    if (!e.damage_only() || kept++ < kDamagedListed) return false;
    tally_left_out(e, left_out);
    return true;
  });
}

Result<std::vector<Finding>> entry_findings(const std::vector<EntryResult>& notable,
                                            const core::EntryStore& store, const PassFindings& pass,
                                            const LeftOut& left_out) {
  std::vector<Finding> out;
  Locked locked;
  for (const auto& e : notable) {
    if (e.problem) {
      // An encrypted link's target is unreadable, and links are never restored: a warning.
      bool unreadable_link = e.problem->code == ErrorCode::kEncryptionUnsupported &&
                             e.type == core::EntryType::kSymlink;
      out.push_back(Finding{finding_code(e.problem->code),
                            unreadable_link ? Severity::kWarning : Severity::kError, e.path,
                            e.problem->message});
    }
    data_findings(e, pass, locked, out);
  }
  RK_TRY_ASSIGN(auto duplicates, duplicate_names(store));
  RK_TRY_ASSIGN(auto paths, path_checks(store, notable));
  for (auto* found : {&duplicates, &paths}) {
    for (auto& f : *found) out.push_back(std::move(f));
  }
  auto by_code = left_out.by_code;
  for (const auto& [code, n] : left_out.encrypted) {
    if (password_error(code)) {
      locked[code].first += n;  // the first one's name comes from the entries kept
    } else {
      by_code[{is_operational(code) ? "CORRUPT_DATA" : finding_code(code), Severity::kError}] += n;
    }
  }
  for (const auto& [finding, n] : by_code) {
    out.push_back(core::more_than_listed(finding.first, finding.second, n));
  }
  for (const auto& [code, agg] : locked) {
    out.push_back(
        Finding{finding_code(code), Severity::kError, agg.second,
                fmt::format("{} encrypted entr{} could not be read ({}{})", agg.first,
                            agg.first == 1 ? "y" : "ies",
                            code == ErrorCode::kBadPassword ? "wrong password, first: \""
                                                            : "no password given, first: \"",
                            agg.second + "\"")});
  }
  return out;
}

}  // namespace restorekit::verify::detail
