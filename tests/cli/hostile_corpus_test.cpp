// Every file of ../shared/corpus/hostile/ and ../shared/corpus/libarchive/ through `inspect`,
// `verify` and a dry-run `restore` (with --plan-out, so the document stager runs too), each in
// its own process: no crash (exit 0, 1 or 2, never a signal), no hang (a time bound per run),
// peak memory bounded (wait4's ru_maxrss), a clear message for what fails, and nothing created
// outside the scratch folder (the processes' cwd, TMPDIR and HOME are inside it; the folders
// around it and the corpus are compared before and after).
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace restorekit::test {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr long kMaxRssKib = 1024 * 1024;  // ASan's shadow memory and quarantine
constexpr int kSecondsPerRun = 120;
#else
constexpr long kMaxRssKib = 256 * 1024;
constexpr int kSecondsPerRun = 30;
#endif

struct Bounded {
  int exit_code = -1;
  int signal = 0;
  bool timed_out = false;
  long max_rss_kib = 0;
  std::string out, err;
};

Bounded run_bounded(const std::vector<std::string>& argv, const fs::path& cwd,
                    const std::vector<std::string>& env, const fs::path& logs) {
  auto out_file = logs / "out", err_file = logs / "err";
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    for (const auto& kv : env) ::putenv(const_cast<char*>(kv.c_str()));
    std::freopen("/dev/null", "r", stdin);
    std::freopen(out_file.c_str(), "w", stdout);
    std::freopen(err_file.c_str(), "w", stderr);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  Bounded b;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kSecondsPerRun);
  int status = 0;
  struct rusage ru {};
  for (;;) {
    pid_t done = ::wait4(pid, &status, WNOHANG, &ru);
    if (done == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      b.timed_out = true;
      ::kill(pid, SIGKILL);
      ::wait4(pid, &status, 0, &ru);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (WIFEXITED(status)) b.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) b.signal = WTERMSIG(status);
  b.max_rss_kib = ru.ru_maxrss;
  b.out = read_file(out_file);
  b.err = read_file(err_file);
  return b;
}

// Names (and sizes of files) below `root`, for before/after comparisons.
std::set<std::string> listing(const fs::path& root) {
  std::set<std::string> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    auto rel = fs::relative(it->path(), root).generic_string();
    out.insert(it->is_regular_file(ec) ? fmt::format("{} {}", rel, it->file_size(ec)) : rel);
  }
  return out;
}

TEST(HostileCorpus, InspectVerifyAndDryRunRestoreStayBoundedAndInside) {
  auto corpus = corpus_dir();
  if (!corpus) GTEST_SKIP() << "SKIPPED: corpus not found (set RESTOREKIT_CORPUS)";
  ScratchDir scratch;
  // scratch/outer/work is where the processes run; anything escaping lands in outer/ or above.
  auto outer = scratch / "outer";
  auto work = outer / "work";
  auto logs = scratch / "logs";
  fs::create_directories(work / "tmp");
  fs::create_directories(work / "home");
  fs::create_directories(logs);
  const auto& s = small_sample();
  fs::copy_file(s.live_database, work / "live.sqlite");
  fs::create_directories(work / "live-docs");
  write_file(work / "live-docs" / "kept.txt", "a live document\n");
  // Every password the corpus states, one per line.
  std::ostringstream pw;
  {
    std::ifstream in(*corpus / "libarchive" / "passwords.tsv");
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      auto tab1 = line.find('\t');
      auto tab2 = line.find('\t', tab1 + 1);
      if (tab1 != std::string::npos) pw << line.substr(tab1 + 1, tab2 - tab1 - 1) << "\n";
    }
  }
  write_file(logs / "passwords", pw.str());

  std::vector<fs::path> files;
  for (auto dir : {"hostile", "libarchive"}) {
    for (const auto& e : fs::directory_iterator(*corpus / dir)) {
      auto ext = e.path().extension();
      if (e.is_regular_file() && ext != ".tsv" && ext != ".md") files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  ASSERT_GT(files.size(), 250u);
  auto corpus_before = listing(*corpus);
  auto work_before = listing(work);
  std::vector<std::string> env = {"TMPDIR=" + (work / "tmp").string(),
                                  "HOME=" + (work / "home").string(),
                                  "XDG_CACHE_HOME=" + (work / "home" / "cache").string()};
  std::map<std::string, int> exits;
  long peak = 0;
  int index = 0;
  for (const auto& f : files) {
    ++index;
    auto plan = work / fmt::format("plan-{}", index);
    std::vector<std::vector<std::string>> commands = {
        {restorekit_exe(), "inspect", f.string(), "--no-catalog", "--password-file",
         (logs / "passwords").string()},
        {restorekit_exe(), "verify", f.string(), "--no-catalog", "--password-file",
         (logs / "passwords").string()},
        {restorekit_exe(), "restore", f.string(), "--live", (work / "live.sqlite").string(),
         "--live-docs", (work / "live-docs").string(), "--dry-run", "--plan-out", plan.string(),
         "--allow-schema-changes", "--password-file", (logs / "passwords").string()},
    };
    for (const auto& cmd : commands) {
      SCOPED_TRACE(fmt::format("{} {}", cmd[1], f.filename().string()));
      auto r = run_bounded(cmd, work, env, logs);
      EXPECT_FALSE(r.timed_out) << "no result within " << kSecondsPerRun << " s";
      EXPECT_EQ(r.signal, 0) << "killed by signal " << r.signal << "\n" << r.err;
      EXPECT_TRUE(r.exit_code >= 0 && r.exit_code <= 2) << r.exit_code << "\n" << r.err;
      EXPECT_LE(r.max_rss_kib, kMaxRssKib);
      if (r.exit_code == 2) {
        EXPECT_FALSE(r.err.empty()) << "an error says what failed";
      }
      if (r.exit_code == 1) {
        EXPECT_FALSE(r.out.empty()) << "problems are reported";
      }
      peak = std::max(peak, r.max_rss_kib);
      ++exits[fmt::format("{} exit {}", cmd[1], r.exit_code)];
    }
    // A kept plan holds only regular files and folders, inside the plan folder.
    std::error_code ec;
    for (fs::recursive_directory_iterator it(plan, ec), end; !ec && it != end; it.increment(ec)) {
      EXPECT_FALSE(it->is_symlink()) << it->path();
      auto canonical = fs::weakly_canonical(it->path()).string();
      EXPECT_EQ(canonical.rfind(fs::weakly_canonical(plan).string(), 0), 0u) << canonical;
    }
    fs::remove_all(plan, ec);
  }
  EXPECT_EQ(listing(*corpus), corpus_before) << "the corpus is only read";
  auto outer_now = listing(outer);
  EXPECT_EQ(outer_now.size(), listing(work).size() + 1) << "nothing next to the work folder";
  auto work_now = listing(work);
  for (const auto& name : work_now) {
    bool known = work_before.count(name) || name.rfind("live.sqlite.restorekit", 0) == 0 ||
                 name.rfind("home", 0) == 0;
    EXPECT_TRUE(known) << "created in the work folder: " << name;
  }
  EXPECT_TRUE(fs::is_empty(work / "tmp")) << "temporary staging is always removed";
  EXPECT_EQ(read_file(work / "live-docs" / "kept.txt"), "a live document\n");
  std::string summary;
  for (const auto& [k, n] : exits) summary += fmt::format("{}: {}; ", k, n);
  std::printf("hostile corpus: %zu files x 3 commands; %s peak RSS %ld KiB\n", files.size(),
              summary.c_str(), peak);
}

}  // namespace
}  // namespace restorekit::test
