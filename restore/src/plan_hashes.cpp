// The dry run's hashes: the ones apply compares (live's content now and after the restore, the
// staged database's bytes), and a selective restore's exact effect.
#include <future>

#include <fmt/format.h>

#include <restorekit/core/content_hash.hpp>
#include <restorekit/core/hash.hpp>

#include "internal.hpp"

namespace restorekit::restore::detail {

using core::Severity;

namespace {

class HashPlanner {
 public:
  HashPlanner(Plan& p, const HashesInput& in) : p_(p), in_(in), o_(in.options) {}

  Result<HashesOutcome> run() {
    RK_TRY(hashes());
    return std::move(out_);
  }

 private:
  // The hashes apply compares: live's content now and after the restore, and the staged
  // database's bytes. Live is read in place, never copied, except for a selective restore,
  // whose transaction runs on a scratch copy (staged where this dry run stages). A full
  // restore's content after it (the staged database's content hash) is computed where it is
  // used: in a plan that is kept (its journal and recovery), or in the steps of a copy.
  Result<void> hashes() {
    p_.live_bytes = file_size_or_zero(p_.live) + file_size_or_zero(p_.live.string() + "-wal");
    RK_TRY_ASSIGN(p_.staged_database_hash, core::hash_file(p_.staged_database));
    auto t = Clock::now();
    auto result_hash = std::async(std::launch::async, [&]() -> Result<core::Digest128> {
      if (p_.selection.selective() || !in_.result_used) return core::Digest128{};
      return core::content_hash(in_.staged, o_.cancel);  // this thread's while it runs
    });
    auto live = p_.selection.selective() ? selective_effects() : live_hash();
    auto staged_hash = result_hash.get();
    RK_TRY(live);
    RK_TRY(staged_hash);
    out_.hash_seconds = p_.selection.selective() ? since(t) : out_.read_seconds;
    if (!p_.selection.selective()) {
      p_.result_hash = *staged_hash;
      return {};
    }
    for (const auto& c : p_.changes) {  // only a selective restore's transaction orphans rows
      if (!c.orphaned) continue;
      // A record restore brings the parents its rows need: a row it leaves pointing nowhere
      // (a parent it could not bring) would be a new violation in live.
      p_.checks.push_back(finding(
          "ORPHANED_ROWS", p_.selection.records() ? Severity::kError : Severity::kWarning, c.table,
          fmt::format("after this restore {} row{} of {} would point to "
                      "rows that do not exist (foreign_key_check on the "
                      "staged result)",
                      c.orphaned, c.orphaned == 1 ? "" : "s", c.table)));
    }
    return {};
  }

  // Live's content hash in one read transaction: a consistent state while the application
  // keeps writing. The fingerprints around it let apply prove live unchanged without reading
  // it again.
  Result<void> live_hash() {
    auto t = Clock::now();
    RK_TRY_ASSIGN(p_.live_fingerprint, fingerprint_around(p_.live, [&]() -> Result<void> {
                    RK_TRY_ASSIGN(p_.live_hash, core::content_hash(in_.live, o_.cancel));
                    return {};
                  }));
    out_.read_seconds = since(t);
    return {};
  }

  // A selective restore's exact effect: its transaction on a scratch copy of live.
  Result<void> selective_effects() {
    auto copy = p_.staging / "live-copy.sqlite";
    std::error_code ec;
    struct Remove {
      fs::path p;
      ~Remove() {
        std::error_code e;
        fs::remove(p, e);
      }
    } remove{copy};
    {
      auto t = Clock::now();
      RK_TRY(copy_to_new_file(in_.live, copy));
      out_.read_seconds = since(t);
    }
    RK_TRY_ASSIGN(auto db, core::Database::open(copy, core::OpenMode::kReadWrite));
    db.stop_when(o_.cancel);
    RK_TRY_ASSIGN(p_.live_hash, core::content_hash(db, o_.cancel));
    static const std::vector<core::ColumnRef> kNone;
    std::optional<RecordListWriter> list;
    if (p_.selection.records()) {
      RK_TRY_ASSIGN(list, RecordListWriter::create());
    }
    RK_TRY_ASSIGN(p_.changes, run_selective(db, p_.staged_database, p_.selection,
                                            o_.profile ? o_.profile->references : kNone,
                                            list ? &*list : nullptr));
    if (list) {
      RK_TRY_ASSIGN(p_.records, std::move(*list).save());
    }
    RK_TRY_ASSIGN(p_.result_hash, core::content_hash(db, o_.cancel));
    return {};
  }

  Plan& p_;
  const HashesInput& in_;
  const PlanOptions& o_;
  HashesOutcome out_;
};

}  // namespace

Result<HashesOutcome> plan_hashes(Plan& plan, const HashesInput& in) {
  return HashPlanner(plan, in).run();
}

}  // namespace restorekit::restore::detail
