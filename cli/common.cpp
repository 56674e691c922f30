#include "common.hpp"

#include <csignal>

#include <restorekit/core/sqlite.hpp>

#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <restorekit/core/fs.hpp>
#include <restorekit/core/safe_path.hpp>
#include <restorekit/core/version.hpp>

namespace restorekit::cli {

std::string version_text() {
  std::string out =
      fmt::format("restorekit {} (commit {})\n", core::version(), core::build_commit());
  std::string libraries;
  for (const auto& lib : core::linked_libraries()) {
    libraries += fmt::format("{}{} {}", libraries.empty() ? "" : ", ", lib.name, lib.version);
  }
  out += fmt::format("libraries: {}\n", libraries);
  out += fmt::format("backup format: {}\n", core::backup_format());
  out += fmt::format("JSON schemas: {}", fmt::join(core::json_schemas(), ", "));
  return out;
}

namespace fs = std::filesystem;

namespace {

// Reads one line from the terminal with echo off.
std::optional<std::string> prompt_password(std::string_view question) {
  FILE* tty = std::fopen("/dev/tty", "r+");
  if (!tty) return std::nullopt;
  int fd = fileno(tty);
  termios old{};
  bool have_termios = ::tcgetattr(fd, &old) == 0;
  if (have_termios) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  fmt::print(tty, "{}", question);
  std::fflush(tty);
  char buf[1024];
  bool got = std::fgets(buf, sizeof buf, tty) != nullptr;
  if (have_termios) ::tcsetattr(fd, TCSAFLUSH, &old);
  fmt::print(tty, "\n");
  std::fclose(tty);
  if (!got) return std::nullopt;
  std::string line(buf);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return line;
}

std::string hint_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kPasswordRequired:
      return "give the password with --password-file FILE or --password-env VAR";
    case ErrorCode::kBadPassword:
      return "check the password given with --password-file or --password-env";
    case ErrorCode::kRatioLimit:
    case ErrorCode::kLimitExceeded:
      return "if the backup is genuine, raise the limit (--max-ratio, --max-entries, --max-bytes)";
    default: return {};
  }
}

int terminal_width() {
  winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) return ws.ws_col;
  return 80;
}

}  // namespace

void add_common_flags(CLI::App& cmd, CommonOptions& o, bool catalog, bool profile) {
  cmd.add_flag("--json", o.json, "print one JSON document on stdout");
  cmd.add_flag("-q,--quiet", o.quiet, "no progress bar, only the result");
  cmd.add_option("--password-file", o.password_file,
                 "file holding the password (one candidate per line)");
  cmd.add_option("--password-env", o.password_env, "environment variable holding the password");
  if (catalog) {
    cmd.add_option("--catalog", o.catalog,
                   "catalog: a file (default $RESTOREKIT_CATALOG, else "
                   "$XDG_CACHE_HOME/restorekit/catalog.sqlite) or postgresql://host/db (password "
                   "from ~/.pgpass or a service file, never here)");
    cmd.add_flag("--no-catalog", o.no_catalog, "neither read nor write the index");
  }
  if (profile) cmd.add_option("--profile", o.profile, "application profile (TOML)");
}

Result<core::Passwords> load_passwords(const CommonOptions& o) {
  core::Passwords pw;
  if (!o.password_file.empty()) {
    RK_TRY_ASSIGN(auto text, core::read_small_file(o.password_file, 1 << 16));
    std::size_t start = 0;
    while (start < text.size()) {
      auto nl = text.find('\n', start);
      std::string line = text.substr(start, nl == std::string::npos ? nl : nl - start);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) pw.candidates.push_back(line);
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
    if (pw.candidates.empty()) {
      return fail(ErrorCode::kInvalidArgument,
                  fmt::format("password file {} is empty", o.password_file), o.password_file);
    }
  }
  if (!o.password_env.empty()) {
    const char* value = std::getenv(o.password_env.c_str());
    if (!value) {
      return fail(ErrorCode::kInvalidArgument,
                  fmt::format("environment variable {} is not set", o.password_env));
    }
    pw.candidates.emplace_back(value);
  }
  if (pw.candidates.empty() && ::isatty(STDIN_FILENO)) {
    pw.prompt = [asked = 0]() mutable -> std::optional<std::string> {
      if (++asked > 3) return std::nullopt;
      return prompt_password("Password: ");
    };
  }
  return pw;
}

Result<std::optional<core::Profile>> load_profile_option(const CommonOptions& o) {
  if (o.profile.empty()) return std::optional<core::Profile>{};
  RK_TRY_ASSIGN(auto p, core::load_profile(o.profile));
  return std::optional<core::Profile>(std::move(p));
}

Result<BackupInputs> load_backup_inputs(const CommonOptions& o, const core::ReaderLimits& limits) {
  BackupInputs in;
  in.reader.limits = limits;
  RK_TRY_ASSIGN(in.reader.passwords, load_passwords(o));
  RK_TRY_ASSIGN(in.profile, load_profile_option(o));
  return in;
}

CancelToken& interrupt_token() {
  static CancelToken token;
  return token;
}

namespace {
void on_interrupt(int) {
  interrupt_token().cancel();  // an atomic store: safe in a signal handler
}
}  // namespace

void install_interrupt_handlers() {
  core::set_query_cancel(interrupt_token());
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

std::optional<std::string> catalog_location(const CommonOptions& o) {
  if (o.no_catalog) return std::nullopt;
  if (!o.catalog.empty()) return o.catalog;
  const char* env = std::getenv("RESTOREKIT_CATALOG");
  if (env && *env) return std::string(env);
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  if (xdg && *xdg) return (fs::path(xdg) / "restorekit" / "catalog.sqlite").string();
  if (home && *home) return (fs::path(home) / ".cache" / "restorekit" / "catalog.sqlite").string();
  return std::nullopt;
}

std::optional<catalog::Index> open_catalog(const CommonOptions& o, std::optional<Error>* why) {
  auto found = catalog_location(o);
  if (!found) return std::nullopt;
  const std::string& path = *found;
  auto index = catalog::Index::open_location(path);
  if (!index) {
    if (why) {
      *why = index.error();
    } else if (!o.quiet) {
      fmt::print(stderr, "restorekit: note: index not used: {}\n", index.error().message);
    }
    return std::nullopt;
  }
  if (index->set_aside()) {
    fmt::print(stderr,
               "restorekit: warning: the catalog {} was damaged; it is kept as {} and a new "
               "catalog was started (run `restorekit catalog add` on your backups again)\n",
               path, index->set_aside()->string());
  }
  return std::move(*index);
}

void print_json(const nlohmann::ordered_json& doc) {
  std::cout << json_text(doc) << "\n";
}

int report_error(const CommonOptions& o, std::string_view schema, const Error& error) {
  std::string hint = hint_for(error.code);
  fmt::print(stderr, "restorekit: error: {}{}\n", core::escape_name(error.message),
             hint.empty() ? "" : fmt::format(" ({})", hint));
  if (o.json) {
    nlohmann::ordered_json doc = {{"schema", schema}, {"error", error_json(error)}};
    print_json(doc);
  }
  return kExitError;
}

ProgressBar::ProgressBar(const CommonOptions& o, std::string label)
    : enabled_(!o.quiet && ::isatty(STDERR_FILENO)), label_(std::move(label)) {}

ProgressBar::~ProgressBar() {
  clear();
}

ProgressFn ProgressBar::callback() {
  if (!enabled_) return {};
  return [this](const Progress& p) { draw(p); };
}

void ProgressBar::draw(const Progress& p) {
  int width = terminal_width();
  std::string amount = p.bytes_total > 0 ? fmt::format("{}/{}", human_bytes(p.bytes_done),
                                                       human_bytes(p.bytes_total))
                                         : human_bytes(p.bytes_done);
  std::string bar;
  if (p.bytes_total > 0) {
    constexpr int kBar = 24;
    int filled = static_cast<int>(kBar * std::min(1.0, static_cast<double>(p.bytes_done) /
                                                           static_cast<double>(p.bytes_total)));
    bar = fmt::format("[{}{}] ", std::string(static_cast<std::size_t>(filled), '#'),
                      std::string(static_cast<std::size_t>(kBar - filled), '.'));
  }
  std::string line = fmt::format("{} {}{} {}", label_, bar, amount, core::escape_name(p.current));
  if (static_cast<int>(line.size()) > width - 1) {
    line.resize(static_cast<std::size_t>(width - 1));
    // Never leave half a UTF-8 character at the cut.
    while (!line.empty() && (static_cast<unsigned char>(line.back()) & 0xC0) == 0x80) {
      line.pop_back();
    }
    if (!line.empty() && static_cast<unsigned char>(line.back()) >= 0xC0) line.pop_back();
  }
  fmt::print(stderr, "\r\x1b[2K{}", line);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::clear() {
  if (!drawn_) return;
  fmt::print(stderr, "\r\x1b[2K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace restorekit::cli

namespace restorekit::cli {
void add_limit_flags(CLI::App& cmd, core::ReaderLimits& limits) {
  cmd.add_option("--max-entries", limits.max_entries, "refuse archives with more entries")
      ->capture_default_str();
  cmd.add_option("--max-bytes", limits.max_total_bytes,
                 "stop once this many uncompressed bytes were read")
      ->capture_default_str();
  cmd.add_option("--max-ratio", limits.max_ratio,
                 "stop when data expands more than this many times (decompression bombs)")
      ->capture_default_str();
}
namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::optional<int> handle_command_word(CLI::App& app, int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return std::nullopt;
  std::string word = argv[1];
  std::vector<std::string> names;
  for (const auto* sub : app.get_subcommands({})) names.push_back(sub->get_name());
  if (std::find(names.begin(), names.end(), word) != names.end()) return std::nullopt;
  if (word == "help") {
    if (argc < 3) {
      std::cout << app.help();
      return kExitOk;
    }
    for (auto* sub : app.get_subcommands({})) {
      if (sub->get_name() != argv[2]) continue;
      std::cout << sub->help();
      return kExitOk;
    }
    word = argv[2];
  }
  auto closest = std::min_element(names.begin(), names.end(), [&](const auto& a, const auto& b) {
    return edit_distance(word, a) < edit_distance(word, b);
  });
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  std::string hint = closest != names.end() && edit_distance(word, *closest) <= 2
                         ? fmt::format("did you mean '{}'? ", *closest)
                         : std::string();
  fmt::print(stderr, "restorekit: error: '{}' is not a command; {}the commands are: {}\n",
             core::escape_name(word), hint, list);
  return kExitError;
}

Result<restore::RowRef> parse_row(const std::string& text) {
  auto colon = text.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return fail(ErrorCode::kInvalidArgument,
                fmt::format("--row {}: give TABLE:KEY, such as persons:42 (a composite key as "
                            "settings:7,theme)",
                            text));
  }
  restore::RowRef row{text.substr(0, colon), {}};
  std::string key = text.substr(colon + 1);
  for (std::size_t at = 0;;) {
    auto comma = key.find(',', at);
    row.key.push_back(key.substr(at, comma - at));
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return row;
}

}  // namespace restorekit::cli
