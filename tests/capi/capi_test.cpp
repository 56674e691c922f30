// The C API (restorekit.h) as an application uses it: backups made by stock tools (sqlite3,
// zip, bsdtar), results compared with the restorekit executable's --json output, cancellation,
// the password callback, errors, and a whole restore.
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <restorekit.h>
#include <restorekit/core/error.hpp>
#include <restorekit/core/version.hpp>

#include "test_support.hpp"

namespace restorekit::test {
namespace {

using nlohmann::json;

// Owning wrappers, so that a failed assertion frees what the test holds.
struct Free {
  void operator()(restorekit_backup* p) const { restorekit_backup_free(p); }
  void operator()(restorekit_options* p) const { restorekit_options_free(p); }
  void operator()(restorekit_result* p) const { restorekit_result_free(p); }
  void operator()(restorekit_error* p) const { restorekit_error_free(p); }
  void operator()(restorekit_plan* p) const { restorekit_plan_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

// An application's data made with stock tools: a sqlite3 database with a foreign key and a
// documents folder, zipped by Info-ZIP (optionally with a password).
struct App {
  ScratchDir dir;
  fs::path db = dir / "app.db";
  fs::path docs = dir / "docs";
  App() {
    EXPECT_EQ(sh("sqlite3 app.db \"PRAGMA foreign_keys=ON;"
                 " CREATE TABLE company(id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
                 " CREATE TABLE invoice(id INTEGER PRIMARY KEY,"
                 "   company_id INTEGER REFERENCES company(id), total REAL);"
                 " INSERT INTO company(name) VALUES ('Acme'), ('Globex');"
                 " INSERT INTO invoice(company_id, total) VALUES (1, 10.5), (2, 99), (1, 3);\"",
                 dir.path()),
              0);
    write_file(docs / "2026" / "invoice-1.txt", "invoice one\n");
    write_file(docs / "readme.md", "# documents\n");
  }
  // zip -r NAME app.db docs [-P password]
  fs::path zip(const std::string& name, const std::string& password = {}) {
    std::string flags = password.empty() ? "" : "-P " + password + " ";
    EXPECT_EQ(sh(fmt::format("zip -qr {}{} app.db docs", flags, name), dir.path()), 0);
    return dir / name;
  }
};

Owned<restorekit_backup> open_backup(const fs::path& path) {
  restorekit_backup* b = nullptr;
  restorekit_error* e = nullptr;
  EXPECT_EQ(restorekit_backup_open(path.c_str(), &b, &e), RESTOREKIT_OK)
      << restorekit_error_message(e);
  restorekit_error_free(e);
  return Owned<restorekit_backup>(b);
}

// A report without the fields that differ between two runs (durations, thread counts).
json stable(json doc) {
  if (doc.is_object()) {
    json out = json::object();
    for (auto& [k, v] : doc.items()) {
      if (k.find("seconds") != std::string::npos || k == "timings" || k == "threads" ||
          k == "throughput")
        continue;
      out[k] = stable(v);
    }
    return out;
  }
  if (doc.is_array()) {
    for (auto& v : doc) v = stable(v);
  }
  return doc;
}

json cli_json(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {restorekit_exe()};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--json");
  argv.push_back("--no-catalog");
  auto r = run(argv);
  auto doc = json::parse(r.out, nullptr, false);
  EXPECT_FALSE(doc.is_discarded()) << r.out << r.err;
  return doc;
}

TEST(CApi, VerifyAndInspectGiveTheDocumentsTheCliPrints) {
  RK_REQUIRE_TOOL("zip");
  RK_REQUIRE_TOOL("sqlite3");
  App app;
  auto zip = app.zip("app.zip");
  auto backup = open_backup(zip);
  ASSERT_TRUE(backup);

  restorekit_result* r = nullptr;
  ASSERT_EQ(restorekit_verify(backup.get(), nullptr, &r, nullptr), RESTOREKIT_OK);
  Owned<restorekit_result> verified(r);
  EXPECT_STREQ(restorekit_result_verdict(r), "intact");
  auto doc = json::parse(restorekit_result_json(r));
  EXPECT_EQ(doc["schema"], "restorekit.verify/1");
  // app.db, docs/, docs/2026/ and the two files, as Info-ZIP stores them.
  EXPECT_EQ(doc.at("totals").at("entries"), 5) << doc.dump(2);
  EXPECT_EQ(stable(doc), stable(cli_json({"verify", zip.string()})));

  r = nullptr;
  ASSERT_EQ(restorekit_inspect(backup.get(), nullptr, &r, nullptr), RESTOREKIT_OK);
  Owned<restorekit_result> inspected(r);
  EXPECT_STREQ(restorekit_result_verdict(r), "complete");
  EXPECT_EQ(stable(json::parse(restorekit_result_json(r))),
            stable(cli_json({"inspect", zip.string()})));
}

TEST(CApi, DamageIsAVerdictAndGarbageAnErrorWithTheCliErrorDocument) {
  RK_REQUIRE_TOOL("zip");
  RK_REQUIRE_TOOL("sqlite3");
  App app;
  auto zip = app.zip("app.zip");
  auto bytes = read_file(zip);
  // One flipped byte in the middle of the stored database (zip keeps it deflated: its CRC
  // or its inflate fails).
  bytes[bytes.size() / 3] = static_cast<char>(bytes[bytes.size() / 3] ^ 0x55);
  restorekit_backup* b = nullptr;
  ASSERT_EQ(restorekit_backup_open_memory(bytes.data(), bytes.size(), "flipped.zip", &b, nullptr),
            RESTOREKIT_OK);
  Owned<restorekit_backup> flipped(b);
  restorekit_result* r = nullptr;
  ASSERT_EQ(restorekit_verify(b, nullptr, &r, nullptr), RESTOREKIT_OK);
  Owned<restorekit_result> result(r);
  EXPECT_STREQ(restorekit_result_verdict(r), "damaged");
  EXPECT_EQ(json::parse(restorekit_result_json(r))["path"], "flipped.zip");

  std::string garbage(4096, 'x');
  ASSERT_EQ(restorekit_backup_open_memory(garbage.data(), garbage.size(), nullptr, &b, nullptr),
            RESTOREKIT_OK);
  Owned<restorekit_backup> not_archive(b);
  restorekit_error* e = nullptr;
  r = nullptr;
  EXPECT_EQ(restorekit_verify(b, nullptr, &r, &e), RESTOREKIT_E_NOT_AN_ARCHIVE);
  Owned<restorekit_error> error(e);
  EXPECT_EQ(r, nullptr);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(restorekit_error_status(e), RESTOREKIT_E_NOT_AN_ARCHIVE);
  EXPECT_NE(std::string(restorekit_error_message(e)), "");
  auto doc = json::parse(restorekit_error_json(e));
  EXPECT_EQ(doc["schema"], "restorekit.verify/1");
  EXPECT_EQ(doc["error"]["code"], "NOT_AN_ARCHIVE");

  // Without an error pointer the status alone comes back.
  EXPECT_EQ(restorekit_verify(b, nullptr, &r, nullptr), RESTOREKIT_E_NOT_AN_ARCHIVE);

  restorekit_backup* missing = nullptr;
  EXPECT_EQ(restorekit_backup_open((app.dir / "nope.zip").c_str(), &missing, &e),
            RESTOREKIT_E_NOT_FOUND);
  Owned<restorekit_error> missing_error(e);
  EXPECT_EQ(missing, nullptr);
  EXPECT_EQ(std::string(restorekit_error_subject(e)), (app.dir / "nope.zip").string());
}

TEST(CApi, StatusNamesAreTheErrorCodeNames) {
  for (int code = 0; code <= static_cast<int>(ErrorCode::kInternal); ++code) {
    auto status = static_cast<restorekit_status>(code + 1);
    EXPECT_EQ(std::string(restorekit_status_name(status)),
              std::string(code_name(static_cast<ErrorCode>(code))));
  }
  EXPECT_STREQ(restorekit_status_name(RESTOREKIT_OK), "OK");
  EXPECT_STREQ(restorekit_status_name(RESTOREKIT_E_CANCELLED), "CANCELLED");
  EXPECT_STREQ(restorekit_status_name(RESTOREKIT_E_OUT_OF_MEMORY), "OUT_OF_MEMORY");
  EXPECT_STREQ(restorekit_status_name(static_cast<restorekit_status>(99)), "UNKNOWN");
}

// A documents folder big enough that verify reports progress several times.
fs::path big_backup(App& app) {
  EXPECT_EQ(sh("head -c 48000000 /dev/urandom > docs/big.bin", app.dir.path()), 0);
  return app.zip("big.zip");
}

TEST(CApi, AProgressCallbackThatSaysStopCancelsVerify) {
  RK_REQUIRE_TOOL("zip");
  RK_REQUIRE_TOOL("sqlite3");
  App app;
  auto backup = open_backup(big_backup(app));
  Owned<restorekit_options> options(restorekit_options_new());
  ASSERT_EQ(restorekit_options_set_temp_dir(options.get(), app.dir.path().c_str()), RESTOREKIT_OK);
  struct Seen {
    int calls = 0;
    uint64_t total = 0;
  } seen;
  restorekit_options_set_progress(
      options.get(),
      [](void* user, uint64_t, uint64_t total, const char* current) {
        auto* s = static_cast<Seen*>(user);
        s->total = total;
        EXPECT_NE(current, nullptr);
        return ++s->calls;  // stop at the first report
      },
      &seen);
  restorekit_result* r = nullptr;
  restorekit_error* e = nullptr;
  EXPECT_EQ(restorekit_verify(backup.get(), options.get(), &r, &e), RESTOREKIT_E_CANCELLED);
  Owned<restorekit_error> error(e);
  EXPECT_EQ(r, nullptr);
  EXPECT_EQ(seen.calls, 1) << "no report after the callback said stop";
  EXPECT_EQ(seen.total, fs::file_size(app.dir / "big.zip"));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(json::parse(restorekit_error_json(e))["error"]["code"], "CANCELLED");
  // Nothing left behind in the temp folder verify was given.
  for (const auto& entry : fs::directory_iterator(app.dir.path())) {
    EXPECT_FALSE(entry.path().filename().string().starts_with("restorekit")) << entry.path();
  }
}

TEST(CApi, CancelFromAnotherThreadStopsVerifyAndStaysSetUntilReset) {
  RK_REQUIRE_TOOL("zip");
  RK_REQUIRE_TOOL("sqlite3");
  App app;
  auto backup = open_backup(big_backup(app));
  Owned<restorekit_options> options(restorekit_options_new());
  // The first report waits until the other thread has cancelled: the cancel lands mid-pass
  // however fast the machine reads.
  struct Shared {
    std::atomic<int> calls{0};
    std::atomic<bool> cancelled{false};
  } shared;
  restorekit_options_set_progress(
      options.get(),
      [](void* user, uint64_t, uint64_t, const char*) {
        auto* s = static_cast<Shared*>(user);
        if (s->calls.fetch_add(1) == 0) {
          while (!s->cancelled.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        return 0;
      },
      &shared);
  std::thread canceller([&] {
    while (shared.calls.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    restorekit_options_cancel(options.get());
    shared.cancelled = true;
  });
  restorekit_result* r = nullptr;
  EXPECT_EQ(restorekit_verify(backup.get(), options.get(), &r, nullptr), RESTOREKIT_E_CANCELLED);
  canceller.join();
  EXPECT_EQ(r, nullptr);
  // The flag stays set: the next operation stops too, until it is reset.
  EXPECT_EQ(restorekit_verify(backup.get(), options.get(), &r, nullptr), RESTOREKIT_E_CANCELLED);
  restorekit_options_reset_cancel(options.get());
  ASSERT_EQ(restorekit_verify(backup.get(), options.get(), &r, nullptr), RESTOREKIT_OK);
  Owned<restorekit_result> result(r);
  EXPECT_STREQ(restorekit_result_verdict(r), "intact");
}

struct Answers {
  std::vector<std::string> given;  // what the callback answers, attempt by attempt
  std::vector<unsigned> asked;     // the attempt numbers it was asked with
};

int answer(void* user, unsigned attempt, char* buffer, size_t size) {
  auto* a = static_cast<Answers*>(user);
  a->asked.push_back(attempt);
  if (attempt >= a->given.size()) return 0;
  std::snprintf(buffer, size, "%s", a->given[attempt].c_str());
  return 1;
}

TEST(CApi, AWrongPasswordFromTheCallbackIsAskedAgainThenLocked) {
  RK_REQUIRE_TOOL("zip");
  RK_REQUIRE_TOOL("sqlite3");
  App app;
  auto backup = open_backup(app.zip("locked.zip", "pw"));
  Owned<restorekit_options> options(restorekit_options_new());
  restorekit_options_set_threads(options.get(), 2);

  // Wrong, then no more answers: locked (not damaged), BAD_PASSWORD among the findings.
  Answers wrong{{"wrong"}, {}};
  restorekit_options_set_password_callback(options.get(), answer, &wrong);
  restorekit_result* r = nullptr;
  ASSERT_EQ(restorekit_verify(backup.get(), options.get(), &r, nullptr), RESTOREKIT_OK);
  Owned<restorekit_result> locked(r);
  EXPECT_STREQ(restorekit_result_verdict(r), "locked");
  EXPECT_NE(std::string(restorekit_result_json(r)).find("BAD_PASSWORD"), std::string::npos);
  EXPECT_EQ(wrong.asked, (std::vector<unsigned>{0, 1})) << "asked once per attempt";

  // Wrong, then right: intact, each attempt asked once even with two reader threads.
  Answers right{{"wrong", "pw"}, {}};
  restorekit_options_set_password_callback(options.get(), answer, &right);
  r = nullptr;
  ASSERT_EQ(restorekit_verify(backup.get(), options.get(), &r, nullptr), RESTOREKIT_OK);
  Owned<restorekit_result> intact(r);
  EXPECT_STREQ(restorekit_result_verdict(r), "intact");
  EXPECT_EQ(right.asked, (std::vector<unsigned>{0, 1}));

  // A password given up front is tried before the callback is asked.
  Answers unused{{}, {}};
  restorekit_options_set_password_callback(options.get(), answer, &unused);
  ASSERT_EQ(restorekit_options_add_password(options.get(), "pw"), RESTOREKIT_OK);
  r = nullptr;
  ASSERT_EQ(restorekit_verify(backup.get(), options.get(), &r, nullptr), RESTOREKIT_OK);
  Owned<restorekit_result> given(r);
  EXPECT_STREQ(restorekit_result_verdict(r), "intact");
  EXPECT_TRUE(unused.asked.empty());
}

TEST(CApi, ABadProfileIsRefusedWithTheKeyItNames) {
  Owned<restorekit_options> options(restorekit_options_new());
  std::string toml = "[database]\nentry = \"*.db\"\nnonsense = 1\n";
  restorekit_error* e = nullptr;
  EXPECT_EQ(restorekit_options_set_profile(options.get(), toml.data(), toml.size(), nullptr, &e),
            RESTOREKIT_E_PROFILE);
  Owned<restorekit_error> error(e);
  EXPECT_NE(std::string(restorekit_error_message(e)).find("nonsense"), std::string::npos)
      << restorekit_error_message(e);
  std::string good = "[database]\nentry = \"*.db\"\n";
  EXPECT_EQ(
      restorekit_options_set_profile(options.get(), good.data(), good.size(), nullptr, nullptr),
      RESTOREKIT_OK);
}

TEST(CApi, DiffPlanAndApplyRestoreTheBackupIntoLive) {
  RK_REQUIRE_TOOL("zip");
  RK_REQUIRE_TOOL("sqlite3");
  App app;
  auto backup = open_backup(app.zip("app.zip"));
  // Live moved on since the backup: an invoice added, a company renamed, a document added.
  fs::path live = app.dir / "live" / "app.db";
  fs::path live_docs = app.dir / "live" / "docs";
  fs::create_directories(live.parent_path());
  fs::copy_file(app.db, live);
  fs::copy(app.docs, live_docs, fs::copy_options::recursive);
  ASSERT_EQ(sh("sqlite3 live/app.db \"INSERT INTO invoice(company_id, total) VALUES (2, 7);"
               " UPDATE company SET name='Initech' WHERE id=2;\"",
               app.dir.path()),
            0);
  write_file(live_docs / "new.txt", "made after the backup\n");

  Owned<restorekit_options> options(restorekit_options_new());
  ASSERT_EQ(restorekit_options_set_live_documents(options.get(), live_docs.c_str()), RESTOREKIT_OK);
  restorekit_result* r = nullptr;
  restorekit_error* e = nullptr;
  ASSERT_EQ(restorekit_diff(backup.get(), live.c_str(), options.get(), &r, &e), RESTOREKIT_OK)
      << restorekit_error_message(e);
  Owned<restorekit_result> diffed(r);
  EXPECT_STREQ(restorekit_result_verdict(r), "changed");
  auto diff = json::parse(restorekit_result_json(r));
  EXPECT_EQ(stable(diff), stable(cli_json({"diff", (app.dir / "app.zip").string(), "--live",
                                           live.string(), "--live-docs", live_docs.string()})));

  // A dry run: safe, and it cannot be applied.
  restorekit_plan* p = nullptr;
  ASSERT_EQ(restorekit_plan_restore(backup.get(), live.c_str(), RESTOREKIT_DRY_RUN, options.get(),
                                    &p, &e),
            RESTOREKIT_OK)
      << restorekit_error_message(e);
  Owned<restorekit_plan> dry(p);
  EXPECT_STREQ(restorekit_result_verdict(restorekit_plan_result(p)), "safe");
  r = nullptr;
  EXPECT_EQ(restorekit_apply(p, options.get(), &r, nullptr), RESTOREKIT_E_INVALID_ARGUMENT);
  EXPECT_EQ(r, nullptr);
  EXPECT_EQ(read_file(live_docs / "new.txt"), "made after the backup\n");

  // A plan to apply, applied: live holds the backup's rows and documents.
  ASSERT_EQ(restorekit_plan_restore(backup.get(), live.c_str(), RESTOREKIT_PLAN_TO_APPLY,
                                    options.get(), &p, &e),
            RESTOREKIT_OK)
      << restorekit_error_message(e);
  Owned<restorekit_plan> plan(p);
  auto planned = json::parse(restorekit_result_json(restorekit_plan_result(p)));
  EXPECT_EQ(planned["schema"], "restorekit.restore/1");
  EXPECT_EQ(planned["verdict"], "safe");
  ASSERT_EQ(restorekit_apply(p, options.get(), &r, &e), RESTOREKIT_OK)
      << restorekit_error_message(e);
  Owned<restorekit_result> applied(r);
  EXPECT_STREQ(restorekit_result_verdict(r), "restored") << restorekit_result_json(r);
  auto count = run({"sqlite3", live.string(),
                    "SELECT count(*), group_concat(name) FROM invoice"
                    " JOIN company ON company.id = company_id"});
  EXPECT_EQ(count.out, "3|Acme,Globex,Acme\n");
  EXPECT_FALSE(fs::exists(live_docs / "new.txt"));
  EXPECT_EQ(read_file(live_docs / "2026" / "invoice-1.txt"), "invoice one\n");
  // Applied once only.
  r = nullptr;
  EXPECT_EQ(restorekit_apply(p, options.get(), &r, nullptr), RESTOREKIT_E_INVALID_ARGUMENT);

  ASSERT_EQ(restorekit_recover(live.c_str(), &r, nullptr), RESTOREKIT_OK);
  Owned<restorekit_result> recovered(r);
  EXPECT_STREQ(restorekit_result_verdict(r), "clean");
}

TEST(CApi, VersionsAreThisBuildsAndTheLinkedLibraries) {
  EXPECT_EQ(std::string(restorekit_version()), RESTOREKIT_PROJECT_VERSION);
  EXPECT_EQ(std::string(restorekit_build_commit()), std::string(core::build_commit()));
  RK_REQUIRE_TOOL("sqlite3");
  auto sqlite = run({"sqlite3", "--version"});
  EXPECT_TRUE(sqlite.out.starts_with(std::string(restorekit_sqlite_version()) + " "))
      << sqlite.out << " vs " << restorekit_sqlite_version();
  for (const char* v :
       {restorekit_libarchive_version(), restorekit_zstd_version(), restorekit_xxhash_version()}) {
    EXPECT_NE(std::string(v), "unknown");
    EXPECT_NE(std::string(v), "");
  }
}

}  // namespace
}  // namespace restorekit::test
