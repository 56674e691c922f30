// Helpers shared by restorekit's test binaries: scratch folders, running commands (the
// restorekit executable and peer tools), building archives in memory, and the corpus path.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <restorekit/core/archive_writer.hpp>
#include <restorekit/sample/sample.hpp>

namespace restorekit::test {

namespace fs = std::filesystem;

// A scratch folder per test, removed afterwards.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  [[nodiscard]] const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

// A tmpfs of `size` ("64k", "8m") mounted at `where` for one test (root only, as in CI);
// unmounted on destruction. Tests that need one skip loudly where it cannot be mounted.
class Tmpfs {
 public:
  Tmpfs(const fs::path& where, const std::string& size);
  ~Tmpfs();
  Tmpfs(const Tmpfs&) = delete;
  Tmpfs& operator=(const Tmpfs&) = delete;
  [[nodiscard]] bool mounted() const { return mounted_; }
  [[nodiscard]] const std::string& error() const { return error_; }  // why it is not mounted

 private:
  fs::path where_;
  bool mounted_ = false;
  std::string error_;
};

#define RK_REQUIRE_TMPFS(t)                                                         \
  do {                                                                              \
    if (!(t).mounted())                                                             \
      GTEST_SKIP() << "SKIPPED: cannot mount a tmpfs here (needs root, as in CI): " \
                   << (t).error();                                                  \
  } while (false)

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `argv` (no shell), optionally in `cwd` and with extra environment entries "K=V";
// stdin is /dev/null.
CommandResult run(const std::vector<std::string>& argv, const fs::path& cwd = {},
                  const std::vector<std::string>& env = {});

// Runs a shell command line in `cwd`; returns its exit code (output discarded unless failing).
int sh(const std::string& command, const fs::path& cwd = {});

// Runs `sql` on `db` (created if absent) with the stock sqlite3 shell; a failure fails the test
// with the shell's message. Callers check have_tool("sqlite3") first.
void sqlite3_shell(const fs::path& db, const std::string& sql);

// The members of a tar (any compression Python's tarfile reads) as Python's reader sees them:
// each raw name, and whether its pax header says hdrcharset=BINARY. Needs python3.
std::map<std::string, bool> tar_members(const fs::path& tar);

// True when a peer tool is on PATH.
bool have_tool(const std::string& name);

// The restorekit executable built alongside the tests.
std::string restorekit_exe();

// The third-party corpus folder (../shared/corpus), or nullopt when absent.
std::optional<fs::path> corpus_dir();

// Writes `content` to `path`, creating parent folders.
void write_file(const fs::path& path, std::string_view content);
std::string read_file(const fs::path& path);
// `n` incompressible bytes, the same for the same `seed` (a 64-bit LCG's top bytes).
std::string noise(std::size_t n, std::uint64_t seed);
// Every regular file below `root`, relative, sorted (empty when `root` is absent).
std::vector<std::string> files_below(const fs::path& root);

// An in-memory archive built entry by entry with restorekit's writer.
struct MemoryEntry {
  std::string path;
  std::string data;  // empty path ending in '/' makes a directory
};
std::vector<std::byte> make_archive(core::ArchiveKind kind, const std::vector<MemoryEntry>& entries,
                                    std::optional<std::string> password = std::nullopt);

// A tar with raw (possibly hostile) entries, written by libarchive itself: names are not
// checked, links and device nodes allowed. `type` is an AE_IF* value (default: regular file).
struct RawEntry {
  std::string name;
  unsigned type = 0100000;
  std::string data;
  std::string link;
};
std::vector<std::byte> raw_tar(const std::vector<RawEntry>& entries);

// Writes bytes to a file.
void write_bytes(const fs::path& path, const std::vector<std::byte>& bytes);

// Rewrites an archive entry by entry through `edit`, which may change an entry's data (return
// it) or drop it (return nullopt); `extra` entries are appended before the last entry.
std::vector<std::byte> rewrite_archive(
    const fs::path& source, core::ArchiveKind kind,
    const std::function<std::optional<std::string>(const std::string& path, std::string data)>&
        edit,
    const std::vector<MemoryEntry>& extra = {});

// A small generated sample application (cached per process: generated once, copied per test).
const sample::SampleResult& small_sample();

}  // namespace restorekit::test

// Skips the current test loudly when a peer tool is missing.
#define RK_REQUIRE_TOOL(name)                                           \
  do {                                                                  \
    if (!::restorekit::test::have_tool(name))                           \
      GTEST_SKIP() << "SKIPPED: peer tool '" << (name)                  \
                   << "' is not installed (run scripts/setup-deps.sh)"; \
  } while (false)
