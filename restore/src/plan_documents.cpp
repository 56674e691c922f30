// The dry run's documents: which of the backup's documents a restore brings back, where each
// goes in live, and what that changes there (diff against live's folder).
#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include <restorekit/core/names.hpp>
#include <restorekit/core/safe_path.hpp>
#include <restorekit/diff/diff.hpp>

#include "internal.hpp"
#include "references.hpp"

namespace restorekit::restore::detail {

using core::Severity;

namespace {

class DocumentPlanner {
 public:
  DocumentPlanner(Plan& p, const DocumentsInput& in) : p_(p), in_(in), o_(in.options) {}

  Result<DocumentsOutcome> run() {
    RK_TRY(documents());
    return out_;
  }

 private:
  // What the restore does to the documents: the staged tree replaces live's, or (a tenant or
  // record restore) the chosen files replace theirs.
  Result<void> documents() {
    if (!p_.live_documents) return {};
    // The backup's files, walked from the pass's listing on disk; held in memory only where the
    // plan keeps their tree (staged documents) or chooses among them (a selective restore).
    auto is_database = [&](const core::EntryRecord& e) {
      return std::any_of(in_.pass.databases.begin(), in_.pass.databases.end(),
                         [&](const auto& db) { return db.entry == e.path; });
    };
    std::vector<core::EntryRecord> files;
    diff::FileWalk walk = [&](const std::function<Result<void>(const core::EntryRecord&)>& fn) {
      return in_.pass.listing->for_each([&](const core::StoredEntry& s) -> Result<void> {
        return is_database(s.record) ? Result<void>{} : fn(s.record);
      });
    };
    if (p_.selection.selective() || in_.staged) {
      RK_TRY_ASSIGN(files, in_.pass.listing->records());
      std::erase_if(files, is_database);
      walk = diff::walk_of(files);
    }
    RK_TRY_ASSIGN(std::string root, diff::documents_root(o_.documents_root, walk));
    auto is_document = [&](const core::EntryRecord& f) {
      return f.type == core::EntryType::kFile && f.path.rfind(root, 0) == 0 &&
             f.path.rfind("restorekit/", 0) != 0;
    };
    std::uint64_t all_files = 0;
    RK_TRY(walk([&](const core::EntryRecord& f) -> Result<void> {
      if (is_document(f)) {
        ++all_files;
        out_.all_bytes += f.size.value_or(0);
      }
      return {};
    }));
    p_.document_files = all_files;
    p_.document_bytes = out_.all_bytes;
    if (p_.selection.selective()) {
      RK_TRY_ASSIGN(bool any, choose_documents(files, root));
      if (!any) return {};
      p_.document_files = 0;
      p_.document_bytes = 0;
      for (const auto& f : files) {
        if (!is_document(f)) continue;
        ++p_.document_files;
        p_.document_bytes += f.size.value_or(0);
      }
    }
    if (p_.document_files > 0) {  // none: live's documents are left alone
      RK_TRY_ASSIGN(auto checks, documents_folder_checks(*p_.live_documents, walk, root));
      for (auto& f : checks) p_.checks.push_back(std::move(f));
    }
    std::error_code ec;
    fs::path live_docs = *p_.live_documents;
    if (!fs::exists(live_docs, ec)) {  // nothing there yet: everything is revived
      live_docs = p_.staging / "no-documents";
      fs::create_directories(live_docs, ec);
    } else if (out_.by_file) {  // names and kinds only: the chosen files' hashes are read by diff
      RK_TRY_ASSIGN(p_.live_tree, scan_tree(live_docs, HashFiles::kNo));
    } else if (in_.staged) {  // apply refuses if live's documents change after this
      RK_TRY_ASSIGN(p_.live_tree, scan_tree(live_docs, HashFiles::kYes));
    }
    std::map<std::string, core::Digest128> scanned;  // each live file is read once
    for (const auto& e : p_.live_tree) {
      if (e.hash) scanned.emplace(e.path, *e.hash);
    }
    RK_TRY_ASSIGN(p_.effects.documents,
                  diff::diff_documents(
                      walk, root, live_docs, o_.diff.sample_rows, &scanned,
                      out_.by_file ? diff::LiveScope::kTheseFiles : diff::LiveScope::kWholeFolder));
    for (const auto& [a, b] : p_.effects.documents->live_duplicates) {
      p_.checks.push_back(finding(
          "DUPLICATE_ENTRY", Severity::kWarning, b,
          fmt::format("the live documents \"{}\" and \"{}\" are one name in two Unicode "
                      "spellings (NFC and NFD); the restore replaces both with the backup's",
                      a, b)));
    }
    if (p_.document_files == 0) {
      p_.checks.push_back(finding("NO_DOCUMENTS", Severity::kInfo, root,
                                  "the backup holds no documents; the live documents folder is "
                                  "left as it is"));
      p_.live_documents.reset();
      return {};
    }
    if (out_.by_file) place_chosen(files, root);
    if (in_.staged) {
      std::string sub = root;
      if (!sub.empty() && sub.back() == '/') sub.pop_back();
      p_.staged_documents = sub.empty() ? in_.files_dir : in_.files_dir / sub;
      p_.staged_tree = tree_from_listing(files, root);
      if (out_.by_file) RK_TRY(prune_staged());
    }
    return {};
  }

  // A selective restore brings documents back only for tenants, through the profile's
  // references: the files that the chosen tenants' rows in the backup name (`files` keeps
  // those). @return false when it brings none back (live's documents are left alone).
  Result<bool> choose_documents(std::vector<core::EntryRecord>& files, const std::string& root) {
    auto leave = [&](std::string why) {
      p_.checks.push_back(finding("DOCUMENTS_LEFT_ALONE", Severity::kInfo, "", std::move(why)));
      p_.live_documents.reset();
      return false;
    };
    bool records = p_.selection.records();
    if (p_.selection.tenants.empty() && !records) {
      return leave("a table restore leaves the documents alone");
    }
    if (!o_.profile || o_.profile->references.empty()) {
      return leave(fmt::format(
          "a {} restore brings documents back through the profile's [documents] references "
          "(the columns that name them); without them the live documents are left as they are",
          records ? "record" : "tenant"));
    }
    ReferencedDocuments refs;
    if (records) {  // the names that the rows it brings back hold
      for (const auto& v : in_.record_documents) {
        if (auto path = core::normalize_entry_path(root + v))
          refs.keys.insert(core::name_key(*path));
      }
    } else {
      DocumentChoice choice{p_.selection.tenants, {}};
      RK_TRY_ASSIGN(refs, referenced_documents(in_.backup, *o_.profile, choice, root,
                                               ReferenceOptions{p_.selection.tenant, false, {}}));
    }
    for (auto& n : refs.notes) p_.checks.push_back(std::move(n));
    std::set<std::string> found;
    std::erase_if(files, [&](const core::EntryRecord& e) {
      if (e.type != core::EntryType::kFile || !e.safe || e.path.rfind(root, 0) != 0) return true;
      auto key = core::name_key(e.path);
      return !refs.keys.count(key) || !found.insert(std::move(key)).second;
    });
    if (auto missing = refs.keys.size() - found.size(); missing > 0) {
      p_.checks.push_back(
          finding("DOC_MISSING", Severity::kWarning, root,
                  fmt::format("{} document{} that {} name {} not in the backup; the live "
                              "file{} of that name {} left as {} are",
                              missing, missing == 1 ? "" : "s", chosen_by(p_.selection),
                              missing == 1 ? "is" : "are", missing == 1 ? "" : "s",
                              missing == 1 ? "is" : "are", missing == 1 ? "it" : "they")));
    }
    if (files.empty()) {
      return leave(
          fmt::format("{} name no document in the backup; the live documents are left as they are",
                      chosen_by(p_.selection)));
    }
    out_.by_file = true;
    return true;
  }

  // Where each chosen document goes in live: the name live has for it (the one name rule), else
  // the backup's below the folders live has. A link or a file in the way blocks the restore.
  void place_chosen(const std::vector<core::EntryRecord>& files, const std::string& root) {
    std::map<std::string, const TreeEntry*> live;  // by name_key of the path below the folder
    for (const auto& e : p_.live_tree) {
      if (!e.path.empty()) live.emplace(core::name_key(e.path), &e);
    }
    for (const auto& f : files) {
      ChosenDocument c{f.path.substr(root.size()), {}, false};
      // The longest leading part that live has (the whole name first), in live's spelling.
      std::string rest, blocked;
      for (std::string part = c.path;;) {
        auto it = live.find(core::name_key(part));
        if (it != live.end()) {
          const TreeEntry& e = *it->second;
          bool whole = rest.empty();
          if ((whole && e.type != core::EntryType::kFile) ||
              (!whole && e.type != core::EntryType::kDirectory)) {
            blocked = e.path;
          }
          c.live_path = e.path + rest;
          c.replaces = whole;
          break;
        }
        auto slash = part.rfind('/');
        if (slash == std::string::npos) {
          c.live_path = c.path;
          break;
        }
        rest = part.substr(slash) + rest;
        part.resize(slash);
      }
      if (!blocked.empty()) {
        p_.checks.push_back(finding(
            "NOT_RESTORABLE_HERE", Severity::kError, f.path,
            fmt::format("the backup's document \"{}\" would go to \"{}\" in {}, where \"{}\" is "
                        "{}; move it away and make a new plan",
                        c.path, c.live_path, p_.live_documents->string(), blocked,
                        c.replaces ? "not a regular file" : "not a folder")));
      }
      p_.chosen_documents.push_back(std::move(c));
    }
    std::sort(p_.chosen_documents.begin(), p_.chosen_documents.end(),
              [](const auto& a, const auto& b) { return a.path < b.path; });
  }

  // The pass staged every document; a tenant restore keeps only the chosen ones.
  Result<void> prune_staged() {
    RK_TRY_ASSIGN(auto tree, scan_tree(*p_.staged_documents, HashFiles::kNo));
    std::set<std::string> keep;
    for (const auto& e : p_.staged_tree) keep.insert(e.path);
    for (auto e = tree.rbegin(); e != tree.rend(); ++e) {  // a folder's contents before it
      if (keep.count(e->path)) continue;
      std::error_code ec;
      fs::remove_all(*p_.staged_documents / e->path, ec);
      if (ec) {
        return fail(ErrorCode::kIo,
                    fmt::format("cannot remove the unchosen staged document {}: {}",
                                (*p_.staged_documents / e->path).string(), ec.message()),
                    e->path);
      }
    }
    return {};
  }

  Plan& p_;
  const DocumentsInput& in_;
  const PlanOptions& o_;
  DocumentsOutcome out_;
};

}  // namespace

Result<DocumentsOutcome> plan_documents(Plan& plan, const DocumentsInput& in) {
  return DocumentPlanner(plan, in).run();
}

std::string chosen_by(const Selection& s) {
  if (s.records()) return "the rows it brings back";
  return "the rows of " + selection_to_string(s);
}

}  // namespace restorekit::restore::detail
