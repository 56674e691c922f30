#include <restorekit/core/error.hpp>

namespace restorekit {

bool is_operational(ErrorCode code) {
  return code == ErrorCode::kNotFound || code == ErrorCode::kInvalidArgument ||
         code == ErrorCode::kNotAnArchive || code == ErrorCode::kIo ||
         code == ErrorCode::kEncryptionUnsupported || code == ErrorCode::kCancelled ||
         code == ErrorCode::kInternal;
}

std::string_view code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case ErrorCode::kNotFound: return "NOT_FOUND";
    case ErrorCode::kIo: return "IO_ERROR";
    case ErrorCode::kNotAnArchive: return "NOT_AN_ARCHIVE";
    case ErrorCode::kUnsupportedFormat: return "UNSUPPORTED_FORMAT";
    case ErrorCode::kTruncated: return "TRUNCATED";
    case ErrorCode::kCorruptData: return "CORRUPT_DATA";
    case ErrorCode::kCrcError: return "CRC_ERROR";
    case ErrorCode::kPasswordRequired: return "PASSWORD_REQUIRED";
    case ErrorCode::kBadPassword: return "BAD_PASSWORD";
    case ErrorCode::kEncryptionUnsupported: return "ENCRYPTION_UNSUPPORTED";
    case ErrorCode::kUnsafePath: return "UNSAFE_PATH";
    case ErrorCode::kUnsafeLink: return "UNSAFE_LINK";
    case ErrorCode::kLimitExceeded: return "LIMIT_EXCEEDED";
    case ErrorCode::kRatioLimit: return "RATIO_LIMIT";
    case ErrorCode::kDatabase: return "DATABASE_ERROR";
    case ErrorCode::kBadBackup: return "BAD_BACKUP";
    case ErrorCode::kProfile: return "PROFILE_ERROR";
    case ErrorCode::kCancelled: return "CANCELLED";
    case ErrorCode::kConflict: return "CONFLICT";
    case ErrorCode::kInternal: return "INTERNAL_ERROR";
  }
  return "INTERNAL_ERROR";
}

}  // namespace restorekit
