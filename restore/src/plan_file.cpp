// The plan as sentences (the steps apply will take) and as plan.json (a kept plan), and
// load_plan(), which reads one back and refuses anything edited or out of place.
#include <algorithm>

#include <fmt/format.h>

#include <restorekit/core/hash.hpp>
#include <restorekit/core/restore_state.hpp>
#include <restorekit/core/version.hpp>

#include "internal.hpp"

namespace restorekit::restore {

namespace fs = std::filesystem;
using core::Finding;
using core::Severity;

namespace {

constexpr std::string_view kPlanSchema = core::schema::kPlan;
constexpr std::uint64_t kMaxPlanBytes = std::uint64_t{1} << 30;

// A file the plan keeps, by its name in the plan folder and its XXH3-128; null when none.
nlohmann::json plan_file_json(const std::optional<PlanFile>& file) {
  if (!file) return nullptr;
  return {{"file", file->path.filename().string()}, {"xxh128", file->digest.hex()}};
}

nlohmann::json chosen_json(const std::optional<ChosenDocuments>& chosen) {
  if (!chosen) return nullptr;
  auto j = plan_file_json(chosen->file);
  j["count"] = chosen->count;
  j["replaced"] = chosen->replaced;
  return j;
}

// @return nullopt for null; the file under `dir` when `j` names it as the dry run does.
// @error kBadBackup (another name, a bad hash), kNotFound (the file is gone).
// @throws nlohmann::json::exception on a malformed object.
Result<std::optional<PlanFile>> plan_file_from_json(const nlohmann::json& j, const fs::path& dir,
                                                    const char* name, const fs::path& plan) {
  if (j.is_null()) return std::nullopt;
  auto digest = core::Digest128::from_hex(j.at("xxh128").get<std::string>());
  if (j.at("file").get<std::string>() != name || !digest) {
    return fail(ErrorCode::kBadBackup,
                fmt::format("{} names a file other than {}: the plan was edited; make a new "
                            "plan",
                            plan.string(), name),
                plan.string());
  }
  PlanFile tree{dir / name, *digest};
  std::error_code ec;
  if (!fs::exists(tree.path, ec)) {
    return fail(
        ErrorCode::kNotFound,
        fmt::format("the plan's documents tree {} is gone; make a new plan", tree.path.string()),
        tree.path.string());
  }
  return tree;
}

core::Severity severity_from(const std::string& s) {
  if (s == "error") return Severity::kError;
  if (s == "warning") return Severity::kWarning;
  return Severity::kInfo;
}

}  // namespace

namespace detail {

namespace {

// How the documents come in: the chosen files one by one, or the whole folder.
std::string documents_step(const Plan& plan, const StepsInput& in) {
  if (in.by_file) {
    auto replaced = plan.chosen_documents ? plan.chosen_documents->replaced : 0;
    auto chosen = plan.chosen_documents ? plan.chosen_documents->count : 0;
    return fmt::format(
        "{}swap the {} documents that {} name into {} one by one ({} replaced by "
        "renameat2 RENAME_EXCHANGE, {} added by a rename); the other documents stay",
        plan.staged_documents ? "" : "stage and ", plan.document_files, chosen_by(plan.selection),
        plan.live_documents->string(), replaced, chosen - replaced);
  }
  return fmt::format("{}swap {} documents into {} (renameat2 RENAME_EXCHANGE)",
                     plan.staged_documents ? "" : "stage and ", plan.document_files,
                     plan.live_documents->string());
}

// The commit point: rows in one transaction, the staged file exchanged, or copied in.
void commit_steps(const Plan& plan, const StepsInput& in, std::vector<std::string>& s) {
  if (plan.selection.selective()) {
    s.push_back(fmt::format("in one transaction, restore {} (commit point)",
                            selection_to_string(plan.selection)));
  } else if (in.swap) {
    s.push_back(fmt::format(
        "exchange the staged database ({}, with live's mode, owner and extended attributes) "
        "with live (renameat2 RENAME_EXCHANGE, commit point): the old file becomes the safety "
        "snapshot under {}, not copied",
        human(plan.staged_bytes), core::restore_snapshots_dir(plan.live).string()));
    s.push_back("check that no process opened the old file meanwhile (else exchange back)");
  } else {
    s.push_back(
        fmt::format("copy the staged database ({}) into live through the SQLite "
                    "backup API (commit point)",
                    human(plan.staged_bytes)));
  }
}

}  // namespace

std::vector<std::string> apply_steps(const Plan& plan, const StepsInput& in) {
  std::vector<std::string> s;
  if (in.live_wal) {
    s.push_back(
        "before the lock, copy any frames left in live's -wal into it (a passive checkpoint, "
        "where live is still as this dry run saw it)");
  }
  s.push_back(
      fmt::format("take the exclusive lock on {} (locking_mode=EXCLUSIVE and an empty "
                  "exclusive transaction: nothing is written)",
                  plan.live.string()));
  s.push_back(fmt::format("check that live still has content hash {}{}", plan.live_hash.hex(),
                          in.swap && plan.live_fingerprint
                              ? " (by its fingerprint: untouched since this dry run)"
                              : ""));
  if (!in.swap) {
    s.push_back(fmt::format("take a safety snapshot of the live database under {}",
                            core::restore_snapshots_dir(plan.live).string()));
  }
  s.push_back("write and sync the journal (old and new content hashes)");
  if (in.swap && in.live_wal) {
    s.push_back(
        "checkpoint what is left in live's -wal into it and take it out of WAL mode (the "
        "staged file comes in WAL mode)");
  }
  if (plan.live_documents) s.push_back(documents_step(plan, in));
  commit_steps(plan, in, s);
  s.push_back(
      "mark the journal committed, keep the old documents in the snapshot, remove the "
      "journal");
  s.push_back(in.swap ? fmt::format("check live: the file swapped in is the staged file whose "
                                    "XXH3-128 {} was checked before the lock, unwritten since (its "
                                    "fingerprint under the lock)",
                                    plan.staged_database_hash.hex())
                      : fmt::format("check live: integrity_check and content hash {}",
                                    plan.result_hash.hex()));
  return s;
}

Result<void> save_plan(Plan& plan) {
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& f : plan.checks) {
    checks.push_back({{"code", f.code},
                      {"severity", core::severity_name(f.severity)},
                      {"entry", f.entry},
                      {"message", f.message}});
  }
  nlohmann::json j = {
      {"schema", kPlanSchema},
      {"backup", fs::absolute(plan.backup).string()},
      {"live", plan.live.string()},
      {"live_documents", plan.live_documents ? plan.live_documents->string() : ""},
      {"database_entry", plan.database_entry},
      {"selection", selection_json(plan.selection)},
      {"allow_schema_changes", plan.allow_schema_changes},
      {"checks", checks},
      {"live_hash", plan.live_hash.hex()},
      {"live_fingerprint",
       plan.live_fingerprint ? fingerprint_json(*plan.live_fingerprint) : nullptr},
      {"result_hash", plan.result_hash.hex()},
      {"live_bytes", plan.live_bytes},
      {"staged_bytes", plan.staged_bytes},
      {"archive_bytes", plan.archive_bytes},
      {"document_files", plan.document_files},
      {"document_bytes", plan.document_bytes},
      {"staged_database", plan.staged_database.filename().string()},
      {"staged_database_xxh128", plan.staged_database_hash.hex()},
      {"staged_tree", plan_file_json(plan.staged_tree)},
      {"live_tree", plan_file_json(plan.live_tree)},
      {"chosen_documents", chosen_json(plan.chosen_documents)},
      {"staged_documents", plan.staged_documents ? plan.staged_documents->string() : ""},
      {"staged_files", plan.staged_files ? plan.staged_files->string() : ""},
      {"steps", plan.steps},
      {"predicted_apply_seconds", plan.predicted_apply_seconds},
      {"throughput", plan.throughput},
      {"seconds", plan.seconds},
  };
  auto file = plan.staging / "plan.json";
  RK_TRY(write_json_durably(file, j));
  RK_TRY_ASSIGN(auto digest, core::hash_file(file));
  RK_TRY(register_plan(plan.live, digest, plan.staging));
  plan.plan_digest = digest;
  return {};
}
}  // namespace detail

namespace {

Result<void> check_plan_schema(const nlohmann::json& j, const fs::path& path) {
  auto schema = j.value("schema", "");
  if (schema == kPlanSchema) return {};
  if (schema.rfind("restorekit.plan/", 0) == 0) {
    return fail(ErrorCode::kBadBackup,
                fmt::format("{} is a plan of another restorekit version ({}; this one reads {}): "
                            "make a new plan",
                            path.string(), schema, kPlanSchema),
                path.string());
  }
  return fail(ErrorCode::kBadBackup,
              fmt::format("{} is not a restorekit plan (made by `restore --dry-run "
                          "--plan-out`)",
                          path.string()),
              path.string());
}

// What the dry run recorded about the backup, live and the checks. Throws json exceptions.
Result<void> read_recorded(const nlohmann::json& j, const fs::path& path, Plan& p) {
  p.backup = j.at("backup").get<std::string>();
  p.live = j.at("live").get<std::string>();
  if (auto d = j.value("live_documents", ""); !d.empty()) p.live_documents = d;
  p.database_entry = j.value("database_entry", "");
  p.selection = detail::selection_from_json(j.at("selection"));
  p.allow_schema_changes = j.value("allow_schema_changes", false);
  for (const auto& c : j.at("checks")) {
    p.checks.push_back(Finding{c.value("code", ""), severity_from(c.value("severity", "")),
                               c.value("entry", ""), c.value("message", "")});
  }
  auto live_hash = core::Digest128::from_hex(j.at("live_hash").get<std::string>());
  auto result_hash = core::Digest128::from_hex(j.at("result_hash").get<std::string>());
  if (!live_hash || !result_hash) {
    return fail(ErrorCode::kBadBackup, fmt::format("{} holds a bad hash", path.string()));
  }
  p.live_hash = *live_hash;
  if (j.contains("live_fingerprint") && j["live_fingerprint"].is_object()) {
    p.live_fingerprint = detail::fingerprint_from_json(j["live_fingerprint"]);
  }
  p.result_hash = *result_hash;
  p.live_bytes = j.value("live_bytes", std::uint64_t{0});
  p.staged_bytes = j.value("staged_bytes", std::uint64_t{0});
  p.archive_bytes = j.value("archive_bytes", std::uint64_t{0});
  p.document_files = j.value("document_files", std::uint64_t{0});
  p.document_bytes = j.value("document_bytes", std::uint64_t{0});
  p.steps = j.value("steps", std::vector<std::string>{});
  p.predicted_apply_seconds = j.value("predicted_apply_seconds", 0.0);
  p.throughput = j.value("throughput", 0.0);
  p.seconds = j.value("seconds", 0.0);
  return {};
}

// The staged files the plan names, all inside its folder (p.staging): a plan is a file someone
// could edit. Throws json exceptions.
Result<void> read_staged(const nlohmann::json& j, const fs::path& path, Plan& p) {
  // The dry run always names the staged database so; anything else is an edited plan.
  if (j.at("staged_database").get<std::string>() != detail::kStagedDatabase) {
    return fail(ErrorCode::kBadBackup,
                fmt::format("{} names a staged database other than {}: the plan was edited; "
                            "make a new plan",
                            path.string(), detail::kStagedDatabase),
                path.string());
  }
  p.staged_database = p.staging / detail::kStagedDatabase;
  auto staged_hash = core::Digest128::from_hex(j.value("staged_database_xxh128", ""));
  if (!staged_hash) {
    return fail(ErrorCode::kBadBackup, fmt::format("{} holds a bad hash", path.string()));
  }
  p.staged_database_hash = *staged_hash;
  RK_TRY_ASSIGN(p.staged_tree,
                plan_file_from_json(j.at("staged_tree"), p.staging, detail::kStagedTree, path));
  RK_TRY_ASSIGN(p.live_tree,
                plan_file_from_json(j.at("live_tree"), p.staging, detail::kLiveTree, path));
  if (const auto& c = j.at("chosen_documents"); !c.is_null()) {
    RK_TRY_ASSIGN(auto file, plan_file_from_json(c, p.staging, detail::kChosenList, path));
    p.chosen_documents = ChosenDocuments{*file, c.at("count").get<std::uint64_t>(),
                                         c.at("replaced").get<std::uint64_t>(), nullptr};
  }
  // The staged documents lie inside the plan folder or its recorded documents staging.
  if (auto d = j.value("staged_documents", ""); !d.empty()) p.staged_documents = d;
  if (auto d = j.value("staged_files", ""); !d.empty()) p.staged_files = d;
  auto inside = [](const fs::path& child, const fs::path& parent) {
    auto rel = child.lexically_normal().lexically_relative(parent.lexically_normal());
    return !rel.empty() && *rel.begin() != "..";
  };
  if (p.staged_documents &&
      !inside(*p.staged_documents, p.staged_files ? *p.staged_files : p.staging)) {
    return fail(ErrorCode::kBadBackup,
                fmt::format("{} names staged documents outside the plan", path.string()));
  }
  return {};
}

}  // namespace

Result<Plan> load_plan(const fs::path& plan_dir) {
  auto path = plan_dir / "plan.json";
  RK_TRY_ASSIGN(auto j, detail::read_json(path, kMaxPlanBytes));
  RK_TRY_ASSIGN(auto digest, core::hash_file(path));
  RK_TRY(check_plan_schema(j, path));
  Plan p;
  p.staging = fs::absolute(plan_dir);
  p.plan_dir = p.staging;
  p.plan_digest = digest;
  try {
    RK_TRY(read_recorded(j, path, p));
    RK_TRY(read_staged(j, path, p));
  } catch (const nlohmann::json::exception& e) {
    return fail(ErrorCode::kBadBackup, fmt::format("{} is damaged: {}", path.string(), e.what()),
                path.string());
  }
  std::error_code ec;
  if (!fs::exists(p.staged_database, ec)) {
    return fail(ErrorCode::kNotFound,
                fmt::format("the plan's staged database {} is gone; make a new plan",
                            p.staged_database.string()),
                p.staged_database.string());
  }
  return p;
}

}  // namespace restorekit::restore
