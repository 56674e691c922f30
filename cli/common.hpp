// What every restorekit command shares: the common flags (--json, --quiet, passwords, catalog,
// profile), exit codes, error printing, the progress bar and human formatting helpers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <restorekit/catalog/index.hpp>
#include <restorekit/core/archive_reader.hpp>
#include <restorekit/core/error.hpp>
#include <restorekit/core/profile.hpp>
#include <restorekit/core/progress.hpp>
#include <restorekit/restore/extract.hpp>

#include "render_common.hpp"

namespace restorekit::cli {

// Exit codes, defined once (DESIGN.md, "Command line contract").
enum ExitCode : int { kExitOk = 0, kExitProblems = 1, kExitError = 2 };

// What `restorekit --version` prints: the version and commit, the libraries it runs with, the
// backup format and the JSON schemas.
std::string version_text();

struct CommonOptions {
  bool json = false;
  bool quiet = false;
  std::string password_file;
  std::string password_env;
  std::string catalog;
  bool no_catalog = false;
  std::string profile;
};

// Adds --json, --quiet, --password-file, --password-env to a subcommand; with `catalog`, also
// --catalog and --no-catalog; with `profile`, --profile.
void add_common_flags(CLI::App& cmd, CommonOptions& o, bool catalog, bool profile);

// Candidate passwords from --password-file (one per line) and --password-env; on a terminal,
// a no-echo prompt as the last resort. @error kNotFound/kIo (file), kInvalidArgument (unset
// variable).
[[nodiscard]] Result<core::Passwords> load_passwords(const CommonOptions& o);

// The profile given with --profile, if any. @error from core::load_profile.
[[nodiscard]] Result<std::optional<core::Profile>> load_profile_option(const CommonOptions& o);

// What every command that reads a backup needs from the common flags.
struct BackupInputs {
  core::ReaderOptions reader;  // limits and passwords
  std::optional<core::Profile> profile;
};
[[nodiscard]] Result<BackupInputs> load_backup_inputs(const CommonOptions& o,
                                                      const core::ReaderLimits& limits);

// The token Ctrl-C (SIGINT) and SIGTERM trip: every command passes it to the library, whose
// archive passes and SQLite queries then stop within a fraction of a second, cleaning up (a
// restore stops before its commit point and leaves live as it was).
CancelToken& interrupt_token();
// Installs the SIGINT/SIGTERM handlers (even where the parent shell ignored SIGINT) and hands
// the token to every SQLite connection. Called once by main().
void install_interrupt_handlers();

// The catalog --catalog names (a file or a postgresql:// URI), else RESTOREKIT_CATALOG, else
// the file under $XDG_CACHE_HOME/restorekit/ (~/.cache/...); nullopt with --no-catalog or
// without any of them.
std::optional<std::string> catalog_location(const CommonOptions& o);

// The index at catalog_location(); nullopt with --no-catalog. An index that cannot be opened is
// reported on stderr and skipped
// (`why`, when given, receives the reason); a damaged one kept aside is said on stderr.
std::optional<catalog::Index> open_catalog(const CommonOptions& o,
                                           std::optional<Error>* why = nullptr);

// Prints an error as one sentence (plus a hint for the flags that fix it) on stderr, and for
// --json a document {"schema": ..., "error": {...}} on stdout. @return kExitError.
int report_error(const CommonOptions& o, std::string_view schema, const Error& error);

// Prints one JSON document on stdout (invalid UTF-8 from archive names replaced, not fatal).
void print_json(const nlohmann::ordered_json& doc);

// A progress bar on stderr, drawn only when stderr is a terminal and --quiet is not given.
class ProgressBar {
 public:
  ProgressBar(const CommonOptions& o, std::string label);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  // The callback to hand to a library operation; empty when no bar is drawn.
  ProgressFn callback();
  void clear();

 private:
  void draw(const Progress& p);
  bool enabled_;
  bool drawn_ = false;
  std::string label_;
};

}  // namespace restorekit::cli

namespace restorekit::cli {
// Adds --max-entries, --max-bytes and --max-ratio, bound to `limits` (defaults shown).
void add_limit_flags(CLI::App& cmd, core::ReaderLimits& limits);

// --row TABLE:KEY (extract, restore): a composite key's values separated by commas.
// @error kInvalidArgument naming the malformed argument.
[[nodiscard]] Result<restore::RowRef> parse_row(const std::string& text);

// `restorekit help [COMMAND]` prints that help; a first word that is no command is an error that
// names the commands and the closest one ("verfy": did you mean verify?). nullopt: parse as usual.
std::optional<int> handle_command_word(CLI::App& app, int argc, char** argv);
}  // namespace restorekit::cli
