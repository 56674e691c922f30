#include "entry_pass.hpp"

#include <restorekit/core/backup_format.hpp>
#include <restorekit/core/safe_path.hpp>

#include "entry_findings.hpp"

namespace restorekit::verify::detail {

bool EntryResult::notable() const {
  bool size_mismatch = data_read && !data_error && declared_size && *declared_size != bytes;
  return problem || data_error || staged || not_a_database || too_long || size_mismatch ||
         core::is_metadata_entry(path);
}

bool EntryResult::damage_only() const {
  return notable() && !staged && !not_a_database && !core::is_metadata_entry(path) && !fatal;
}

namespace {

core::StoredEntry row_of(const EntryResult& e, std::string path,
                         std::optional<std::string> extra_hex) {
  core::EntryRecord r{
      std::move(path), e.type,      e.data_read ? std::optional(e.bytes) : e.declared_size,
      e.mtime,         e.encrypted, !e.problem,
      std::nullopt};
  bool good = e.data_read && !e.data_error;
  if (good) r.hash = e.xxh128;
  return core::StoredEntry{e.index, std::move(r), e.data_read, e.data_error.has_value(),
                           good ? std::move(extra_hex) : std::nullopt};
}

// Attached last: reads what the visitors before it found and records the entry.
class Recorder final : public core::EntryVisitor {
 public:
  Recorder(const PassPlan& plan, core::MetadataVisitor& metadata, const core::HashVisitor& hashes,
           const core::DatabaseStager& databases, PassOutcome& out)
      : plan_(plan), metadata_(metadata), hashes_(hashes), databases_(databases), out_(out) {}

  Result<core::Interest> begin(const core::Entry&) override { return core::Interest::kSkip; }

  Result<void> end(const core::Entry& e, const core::EntryEnd& how) override {
    bool owned = plan_.by_windows || e.index % plan_.workers == plan_.worker;
    if (!owned && plan_.worker != 0) return {};
    EntryResult r;
    r.index = e.index;
    r.path = e.safe() ? e.path : e.raw_path;
    r.type = e.type;
    r.encrypted = e.encrypted;
    r.declared_size = e.size;
    r.problem = e.problem;
    r.mtime = e.mtime;
    if (e.safe()) r.too_long = core::too_long_to_restore(e.path);
    if (how.data_read) take_data(r, how);
    if (owned) {
      out_.bytes += r.bytes;
      if (r.encrypted && r.data_read && !r.data_error) ++out_.decrypted;
      if (r.data_read && plan_.on_entry) plan_.on_entry(r);
    }
    // Reader 0 lists every entry; a row of the owner replaces its row in the store. An entry
    // not kept gives the store its path instead of a copy.
    auto ownership = owned ? core::Ownership::kOwned : core::Ownership::kNotOwned;
    if (!owned || !r.notable()) return plan_.store->add(std::move(r).stored(), ownership);
    if (r.damage_only() && out_.damaged_kept >= kDamagedListed) {
      tally_left_out(r, out_.left_out);
      return plan_.store->add(std::move(r).stored(), ownership);
    }
    RK_TRY(plan_.store->add(r.stored(), ownership));
    if (r.damage_only()) ++out_.damaged_kept;
    out_.notable.push_back(std::move(r));
    return {};
  }

 private:
  void take_data(EntryResult& r, const core::EntryEnd& how) {
    r.data_read = true;
    r.bytes = how.bytes;
    r.data_error = how.failure;
    r.fatal = how.fatal;
    r.xxh128 = hashes_.digest();
    r.extra_hex = hashes_.extra_hex();
    r.staged = databases_.staged();
    r.not_a_database = databases_.finding();
    r.text = metadata_.take_text();
    r.list_file = metadata_.take_list_file();
    if (r.index == 0) r.header = metadata_.header();
  }

  const PassPlan& plan_;
  core::MetadataVisitor& metadata_;
  const core::HashVisitor& hashes_;
  const core::DatabaseStager& databases_;
  PassOutcome& out_;
};

core::PassOptions pass_options(const PassPlan& plan) {
  core::PassOptions o;
  o.cancel = plan.cancel;
  o.data_progress_only = plan.workers > 1;
  if (plan.workers > 1 && !plan.by_windows) {
    o.reads = [&plan](const core::Entry& e) { return e.index % plan.workers == plan.worker; };
  }
  o.progress = [&plan](std::uint64_t raw) {
    if (!plan.raw_bytes) return;
    plan.raw_bytes->fetch_add(raw, std::memory_order_relaxed);
    if (plan.on_progress) plan.on_progress();
  };
  o.drain = plan.worker == 0;
  return o;
}

}  // namespace

core::StoredEntry EntryResult::stored() const& {
  return row_of(*this, path, extra_hex);
}

core::StoredEntry EntryResult::stored() && {
  return row_of(*this, std::move(path), std::move(extra_hex));
}

Result<PassOutcome> run_pass(core::ArchiveReader& reader, const PassPlan& plan) {
  PassOutcome out;
  core::MetadataVisitor metadata(plan.stage_dir);  // the checksum list goes to a file
  core::HashVisitor hashes(plan.extra ? core::HashVisitor::ExtraFn([list = plan.extra](auto path) {
    return list->other_algorithm(path);
  })
                                      : core::HashVisitor::ExtraFn());
  core::DatabaseStager databases(plan.stage_dir);
  std::unique_ptr<core::EntryVisitor> theirs;
  if (plan.visitors && *plan.visitors) theirs = (*plan.visitors)(databases);
  Recorder recorder(plan, metadata, hashes, databases, out);
  core::ArchivePass pass(pass_options(plan));
  pass.attach(metadata);
  pass.attach(hashes);
  pass.attach(databases);
  if (theirs) pass.attach(*theirs);
  pass.attach(recorder);
  RK_TRY_ASSIGN(out.pass, pass.run(reader));
  return out;
}

}  // namespace restorekit::verify::detail
