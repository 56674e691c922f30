// The restore journal and the plan/snapshot documents: small JSON files written durably
// (temporary file, fsync, rename, fsync of the folder).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include <restorekit/core/fs.hpp>
#include <restorekit/core/version.hpp>

#include "internal.hpp"

namespace restorekit::restore::detail {

Result<void> write_json_durably(const fs::path& path, const nlohmann::json& j) {
  // Entry names from hostile archives may hold invalid UTF-8: replaced, never a throw.
  return write_text_durably(path,
                            j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

Result<void> write_text_durably(const fs::path& path, std::string_view text) {
  auto tmp = path;
  tmp += ".tmp";
  std::error_code ec;
  fs::remove(tmp, ec);
  {
    RK_TRY_ASSIGN(auto fd, core::create_new_file(tmp));
    RK_TRY(core::write_all(fd.get(), text.data(), text.size(), tmp.string()));
    RK_TRY(core::sync_fd(fd.get(), tmp.string()));
  }
  return core::rename_durably(tmp, path);
}

Result<nlohmann::json> read_json(const fs::path& path, std::uint64_t max_bytes) {
  RK_TRY_ASSIGN(auto text, core::read_small_file(path, max_bytes));
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return fail(ErrorCode::kBadBackup,
                fmt::format("{} is not valid restorekit JSON", path.string()), path.string());
  }
  return j;
}

bool relative_inside(const std::string& path) {
  fs::path p(path);
  if (path.empty() || p.is_absolute()) return false;
  return std::none_of(p.begin(), p.end(), [](const fs::path& c) { return c == ".."; });
}

// Journal: {"live", "staged", "live_ino", "staged_ino"}; snapshot: {"live", "kept"} (inodes are
// taken again under the lock of the rollback).
Result<std::vector<FileSwap>> file_swaps_from_json(const nlohmann::json& j) {
  std::vector<FileSwap> out;
  if (!j.is_array()) return fail(ErrorCode::kBadBackup, "a list of documents is not a list");
  for (const auto& x : j) {
    FileSwap f;
    f.live = x.at("live").get<std::string>();
    f.staged =
        x.contains("kept") ? x["kept"].get<std::string>() : x.at("staged").get<std::string>();
    f.live_ino = x.value("live_ino", std::uint64_t{0});
    f.staged_ino = x.value("staged_ino", std::uint64_t{0});
    if (!relative_inside(f.live) || !relative_inside(f.staged)) {
      return fail(ErrorCode::kBadBackup,
                  fmt::format("a list of documents names \"{}\" / \"{}\", outside its folder",
                              f.live, f.staged));
    }
    out.push_back(std::move(f));
  }
  return out;
}

Result<std::vector<std::string>> folders_from_json(const nlohmann::json& j) {
  std::vector<std::string> out;
  for (const auto& m : j.get<std::vector<std::string>>()) {
    if (!m.empty() && !relative_inside(m)) {
      return fail(ErrorCode::kBadBackup,
                  fmt::format("a list of folders names \"{}\", outside the documents", m));
    }
    out.push_back(m);
  }
  return out;
}

nlohmann::json selection_json(const Selection& s) {
  nlohmann::json j = {{"tenants", s.tenants},
                      {"tables", s.tables},
                      {"exclude_tables", s.exclude_tables},
                      {"drop_other_tenants", s.drop_other_tenants}};
  if (s.records()) {
    nlohmann::json rows = nlohmann::json::array(), where = nlohmann::json::array(),
                   relations = nlohmann::json::array();
    for (const auto& r : s.rows) rows.push_back({{"table", r.table}, {"key", r.key}});
    for (const auto& w : s.where) where.push_back({{"table", w.table}, {"sql", w.sql}});
    for (const auto& r : s.relations) {
      relations.push_back({{"child", {r.child.table, r.child.column}},
                           {"parent", {r.parent.table, r.parent.column}}});
    }
    j["rows"] = std::move(rows);
    j["where"] = std::move(where);
    j["relations"] = std::move(relations);
    j["revert_changed"] = s.revert_changed;
  }
  if (s.tenant) {
    j["tenant"] = {{"column", s.tenant->column},
                   {"table", s.tenant->table.value_or("")},
                   {"key", s.tenant->key},
                   {"label", s.tenant->label.value_or("")}};
  }
  return j;
}

Selection selection_from_json(const nlohmann::json& j) {
  Selection s;
  s.tenants = j.value("tenants", std::vector<std::string>{});
  s.tables = j.value("tables", std::vector<std::string>{});
  s.exclude_tables = j.value("exclude_tables", std::vector<std::string>{});
  s.drop_other_tenants = j.value("drop_other_tenants", false);
  for (const auto& r : j.value("rows", nlohmann::json::array())) {
    s.rows.push_back(
        RowRef{r.at("table").get<std::string>(), r.at("key").get<std::vector<std::string>>()});
  }
  for (const auto& w : j.value("where", nlohmann::json::array())) {
    s.where.push_back(
        RowCondition{w.at("table").get<std::string>(), w.at("sql").get<std::string>()});
  }
  for (const auto& r : j.value("relations", nlohmann::json::array())) {
    auto c = r.at("child").get<std::vector<std::string>>();
    auto p = r.at("parent").get<std::vector<std::string>>();
    if (c.size() != 2 || p.size() != 2) continue;
    s.relations.push_back(core::Relation{{c[0], c[1]}, {p[0], p[1]}});
  }
  s.revert_changed = j.value("revert_changed", false);
  if (j.contains("tenant") && j["tenant"].is_object()) {
    const auto& t = j["tenant"];
    core::TenantSpec spec;
    spec.column = t.value("column", "");
    if (auto table = t.value("table", ""); !table.empty()) spec.table = table;
    spec.key = t.value("key", "id");
    if (auto label = t.value("label", ""); !label.empty()) spec.label = label;
    s.tenant = spec;
  }
  return s;
}

std::string selection_to_string(const Selection& s) {
  std::vector<std::string> parts;
  auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (const auto& x : v) out += (out.empty() ? "" : ", ") + x;
    return out;
  };
  if (!s.tenants.empty()) parts.push_back("tenants " + join(s.tenants));
  if (!s.tables.empty()) parts.push_back("tables " + join(s.tables));
  if (!s.exclude_tables.empty()) parts.push_back("all tables but " + join(s.exclude_tables));
  if (s.drop_other_tenants) parts.push_back("other tenants dropped");
  for (const auto& r : s.rows) {
    std::string key;
    for (const auto& k : r.key) key += (key.empty() ? "" : ",") + k;
    parts.push_back(fmt::format("row {}:{}", r.table, key));
  }
  for (const auto& w : s.where) parts.push_back(fmt::format("rows of {} where {}", w.table, w.sql));
  if (s.records()) {
    parts.push_back(s.revert_changed ? "rows changed since reverted" : "rows changed since kept");
  }
  return join(parts);
}

namespace {

nlohmann::json file_fingerprint_json(const FileFingerprint& f) {
  return {{"device", f.device},     {"inode", f.inode},       {"size", f.size},
          {"mtime_ns", f.mtime_ns}, {"ctime_ns", f.ctime_ns}, {"marks", f.marks}};
}

FileFingerprint file_fingerprint_from_json(const nlohmann::json& j) {
  return {j.at("device").get<std::uint64_t>(),  j.at("inode").get<std::uint64_t>(),
          j.at("size").get<std::uint64_t>(),    j.at("mtime_ns").get<std::int64_t>(),
          j.at("ctime_ns").get<std::int64_t>(), j.at("marks").get<std::uint64_t>()};
}

}  // namespace

nlohmann::json fingerprint_json(const DatabaseFingerprint& f) {
  return {{"file", file_fingerprint_json(f.file)}, {"wal", file_fingerprint_json(f.wal)}};
}

DatabaseFingerprint fingerprint_from_json(const nlohmann::json& j) {
  return {file_fingerprint_from_json(j.at("file")), file_fingerprint_from_json(j.at("wal"))};
}

nlohmann::json job_json(const Job& job) {
  nlohmann::json j = {{"schema", core::schema::kJournal},
                      {"kind", job.kind == Job::Kind::kRollback ? "rollback" : "restore"},
                      {"state", job.state == Job::State::kCommitted ? "committed" : "prepared"},
                      {"method", job.method == Job::Method::kSwap ? "swap" : "copy"},
                      {"retired_wal", job.retired_wal},
                      {"live", job.live.string()},
                      {"staged_database", job.staged_database.string()},
                      {"old_hash", job.old_hash.hex()},
                      {"new_hash", job.result_hash.hex()},
                      {"snapshot", job.snapshot.string()},
                      {"remove_after", job.remove_after ? job.remove_after->string() : ""},
                      {"documents", nullptr},
                      {"selection", nullptr}};
  if (job.documents) {
    const auto& d = *job.documents;
    // A by-file swap's files and their inodes are listed in the snapshot (kSwapList).
    j["documents"] = {{"live", d.live.string()},
                      {"staged", d.staged.string()},
                      {"staged_ino", d.staged_ino},
                      {"live_ino", d.live_ino},
                      {"files_listed", d.files.has_value()},
                      {"made", d.made},
                      {"emptied", d.emptied}};
  }
  if (job.selection) j["selection"] = selection_json(*job.selection);
  return j;
}

Result<Job> job_from_json(const nlohmann::json& j) {
  if (auto schema = j.value("schema", ""); schema != core::schema::kJournal) {
    return fail(ErrorCode::kBadBackup,
                fmt::format("the restore journal has schema \"{}\", not {}: it was written by "
                            "another restorekit version; recover with that version",
                            schema, core::schema::kJournal));
  }
  try {
    Job job;
    job.kind =
        j.at("kind").get<std::string>() == "rollback" ? Job::Kind::kRollback : Job::Kind::kRestore;
    job.state = j.at("state").get<std::string>() == "committed" ? Job::State::kCommitted
                                                                : Job::State::kPrepared;
    job.method = j.value("method", "copy") == "swap" ? Job::Method::kSwap : Job::Method::kCopy;
    job.retired_wal = j.value("retired_wal", false);
    job.live = j.at("live").get<std::string>();
    job.staged_database = j.at("staged_database").get<std::string>();
    auto old_hash = core::Digest128::from_hex(j.at("old_hash").get<std::string>());
    auto new_hash = core::Digest128::from_hex(j.at("new_hash").get<std::string>());
    if (!old_hash || !new_hash) return fail(ErrorCode::kBadBackup, "bad hash in the journal");
    job.old_hash = *old_hash;
    job.result_hash = *new_hash;
    job.snapshot = j.at("snapshot").get<std::string>();
    if (auto r = j.value("remove_after", ""); !r.empty()) job.remove_after = r;
    if (j.at("documents").is_object()) {
      const auto& d = j["documents"];
      job.documents.emplace();
      job.documents->live = d.at("live").get<std::string>();
      job.documents->staged = d.at("staged").get<std::string>();
      job.documents->staged_ino = d.at("staged_ino").get<std::uint64_t>();
      job.documents->live_ino = d.at("live_ino").get<std::uint64_t>();
      if (d.value("files_listed", false)) job.documents->files = job.snapshot / kSwapList;
      RK_TRY_ASSIGN(job.documents->made,
                    folders_from_json(d.value("made", nlohmann::json::array())));
      RK_TRY_ASSIGN(job.documents->emptied,
                    folders_from_json(d.value("emptied", nlohmann::json::array())));
    }
    if (j.at("selection").is_object()) job.selection = selection_from_json(j["selection"]);
    return job;
  } catch (const nlohmann::json::exception& e) {
    return fail(ErrorCode::kBadBackup, fmt::format("the restore journal is damaged: {}", e.what()));
  }
}

}  // namespace restorekit::restore::detail
