// The dry run's documents: which of the backup's documents a restore brings back, where each
// goes in live, and what that changes there (diff against live's folder).
#include <algorithm>

#include <fmt/format.h>

#include <restorekit/core/names.hpp>
#include <restorekit/core/safe_path.hpp>
#include <restorekit/diff/diff.hpp>

#include "chosen_list.hpp"
#include "internal.hpp"
#include "references.hpp"

namespace restorekit::restore::detail {

using core::Severity;

namespace {

// The pass staged every document into `dir`; a tenant restore keeps only the chosen ones
// (`keep`).
Result<void> prune_staged(const fs::path& dir, Tree& keep) {
  RK_TRY_ASSIGN(auto staged, Tree::scratch());
  RK_TRY(scan_tree(dir, HashFiles::kNo, staged));
  RK_TRY_ASSIGN(auto all, staged.walk(Tree::Order::kDescending));  // a folder's files first
  for (;;) {
    RK_TRY_ASSIGN(bool more, all.next());
    if (!more) return {};
    const auto& e = all.entry();
    RK_TRY_ASSIGN(auto kept, keep.find(e.path));
    if (kept) continue;
    std::error_code ec;
    fs::remove_all(dir / e.path, ec);
    if (ec) {
      return fail(ErrorCode::kIo,
                  fmt::format("cannot remove the unchosen staged document {}: {}",
                              (dir / e.path).string(), ec.message()),
                  e.path);
    }
  }
}

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
    RK_TRY_ASSIGN(bool any, choose_files());
    if (!any) return {};
    if (p_.document_files > 0) {  // none: live's documents are left alone
      RK_TRY_ASSIGN(auto checks, documents_folder_checks(*p_.live_documents, walk_, root_));
      for (auto& f : checks) p_.checks.push_back(std::move(f));
    }
    RK_TRY(compare_with_live());
    if (p_.document_files == 0) {
      p_.checks.push_back(finding("NO_DOCUMENTS", Severity::kInfo, root_,
                                  "the backup holds no documents; the live documents folder is "
                                  "left as it is"));
      p_.live_documents.reset();
      return {};
    }
    return keep_trees();
  }

  // The backup's documents the restore brings back (walk_, under root_), counted into the plan.
  // @return false when a selective restore brings none back.
  Result<bool> choose_files() {
    // The backup's files, walked from the pass's listing on disk; held in memory only where a
    // selective restore chooses among them.
    walk_ = [this](const std::function<Result<void>(const core::EntryRecord&)>& fn) {
      return in_.pass.listing->for_each([&](const core::StoredEntry& s) -> Result<void> {
        bool database = std::any_of(in_.pass.databases.begin(), in_.pass.databases.end(),
                                    [&](const auto& db) { return db.entry == s.record.path; });
        return database ? Result<void>{} : fn(s.record);
      });
    };
    RK_TRY_ASSIGN(root_, diff::documents_root(o_.documents_root, walk_));
    auto count = [&](std::uint64_t& n, std::uint64_t& bytes) {
      return walk_([&](const core::EntryRecord& f) -> Result<void> {
        if (f.type == core::EntryType::kFile && f.path.rfind(root_, 0) == 0 &&
            f.path.rfind("restorekit/", 0) != 0) {
          ++n;
          bytes += f.size.value_or(0);
        }
        return {};
      });
    };
    std::uint64_t all_files = 0;
    RK_TRY(count(all_files, out_.all_bytes));
    p_.document_files = all_files;
    p_.document_bytes = out_.all_bytes;
    if (!p_.selection.selective()) return true;
    RK_TRY_ASSIGN(bool any, choose_documents(walk_, root_, choice_));
    if (!any) return false;
    walk_ = choice_->walk();
    p_.document_files = 0;
    p_.document_bytes = 0;
    RK_TRY(count(p_.document_files, p_.document_bytes));
    return true;
  }

  // What the restore changes in live's folder (p_.effects.documents). Live's documents as they
  // are now are kept (live_) where apply compares them again (it refuses if they change after
  // this) or where the chosen files are placed among them.
  Result<void> compare_with_live() {
    if (out_.by_file || in_.staged) {
      RK_TRY_ASSIGN(live_, Tree::create(p_.staging / kLiveTree));
    }
    std::error_code ec;
    fs::path live_docs = *p_.live_documents;
    if (!fs::exists(live_docs, ec)) {  // nothing there yet: everything is revived
      live_docs = p_.staging / "no-documents";
      fs::create_directories(live_docs, ec);
    } else if (live_) {  // a tenant restore needs names and kinds: diff reads the chosen files
      RK_TRY(scan_tree(live_docs, out_.by_file ? HashFiles::kNo : HashFiles::kYes, *live_));
    }
    diff::LiveHashes scanned;  // each live file is read once (the scan hashed them)
    if (live_ && !out_.by_file) {
      scanned = [&](const std::string& rel) -> std::optional<core::Digest128> {
        auto e = live_->find(rel);
        return e && *e ? (*e)->hash : std::nullopt;
      };
    }
    RK_TRY_ASSIGN(p_.effects.documents,
                  diff::diff_documents(
                      walk_, root_, live_docs, o_.diff.sample_rows, scanned,
                      out_.by_file ? diff::LiveScope::kTheseFiles : diff::LiveScope::kWholeFolder));
    for (const auto& [a, b] : p_.effects.documents->live_duplicates) {
      p_.checks.push_back(finding(
          "DUPLICATE_ENTRY", Severity::kWarning, b,
          fmt::format("the live documents \"{}\" and \"{}\" are one name in two Unicode "
                      "spellings (NFC and NFD); the restore replaces both with the backup's",
                      a, b)));
    }
    return {};
  }

  // The files apply checks the plan against: where the chosen documents go, live's tree, and
  // the staged tree (pruned to the chosen files).
  Result<void> keep_trees() {
    if (out_.by_file) RK_TRY(place_chosen(*choice_, root_, *live_));
    if (live_) {
      RK_TRY_ASSIGN(p_.live_tree, std::move(*live_).save());
    }
    if (!in_.staged) return {};
    std::string sub = root_;
    if (!sub.empty() && sub.back() == '/') sub.pop_back();
    p_.staged_documents = sub.empty() ? in_.files_dir : in_.files_dir / sub;
    RK_TRY_ASSIGN(auto staged, Tree::create(p_.staging / kStagedTree));
    RK_TRY(add_listing(walk_, root_, staged));
    if (out_.by_file) RK_TRY(prune_staged(*p_.staged_documents, staged));
    RK_TRY_ASSIGN(p_.staged_tree, std::move(staged).save());
    return {};
  }

  // A selective restore brings documents back only for tenants, through the profile's
  // references: the files that the chosen tenants' rows in the backup name (they go to
  // `choice`). @return false when it brings none back (live's documents are left alone).
  Result<bool> choose_documents(const diff::FileWalk& walk, const std::string& root,
                                std::optional<Choice>& choice) {
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
    RK_TRY_ASSIGN(choice, Choice::open());
    ReferencedDocuments refs;
    if (records) {  // the names that the rows it brings back hold (listed by plan_hashes)
      if (p_.records) {
        RK_TRY(for_each_record_name(*p_.records, [&](std::string_view v) -> Result<void> {
          auto path = core::normalize_entry_path(root + std::string(v));
          return path ? choice->want(core::name_key(*path)) : Result<void>{};
        }));
      }
    } else {
      DocumentChoice tenants{p_.selection.tenants, {}};
      ReferenceOptions how{p_.selection.tenant, false,
                           [&](const std::string& key) { return choice->want(key); }};
      RK_TRY_ASSIGN(refs, referenced_documents(in_.backup, *o_.profile, tenants, root, how));
    }
    for (auto& n : refs.notes) p_.checks.push_back(std::move(n));
    RK_TRY(walk([&](const core::EntryRecord& e) -> Result<void> {
      if (e.type != core::EntryType::kFile || !e.safe || e.path.rfind(root, 0) != 0) return {};
      return choice->offer(e);
    }));
    RK_TRY_ASSIGN(auto missing, choice->missing());
    if (missing > 0) {
      p_.checks.push_back(
          finding("DOC_MISSING", Severity::kWarning, root,
                  fmt::format("{} document{} that {} name {} not in the backup; the live "
                              "file{} of that name {} left as {} are",
                              missing, missing == 1 ? "" : "s", chosen_by(p_.selection),
                              missing == 1 ? "is" : "are", missing == 1 ? "" : "s",
                              missing == 1 ? "is" : "are", missing == 1 ? "it" : "they")));
    }
    if (choice->files() == 0) {
      return leave(
          fmt::format("{} name no document in the backup; the live documents are left as they are",
                      chosen_by(p_.selection)));
    }
    out_.by_file = true;
    return true;
  }

  // Where each chosen document goes in live: the name live has for it (the one name rule), else
  // the backup's below the folders live has. A link or a file in the way blocks the restore.
  Result<void> place_chosen(Choice& choice, const std::string& root, Tree& live_tree) {
    RK_TRY(choice.index_live(live_tree));
    RK_TRY_ASSIGN(auto list, ChosenList::create(p_.staging / kChosenList));
    core::FindingCap blocked(p_.checks);
    RK_TRY(choice.walk()([&](const core::EntryRecord& f) -> Result<void> {
      ChosenDocument c{f.path.substr(root.size()), {}, false};
      // The longest leading part that live has (the whole name first), in live's spelling.
      std::string rest, in_the_way;
      for (std::string part = c.path;;) {
        RK_TRY_ASSIGN(auto e, choice.live_entry(core::name_key(part)));
        if (e) {
          bool whole = rest.empty();
          if ((whole && e->type != core::EntryType::kFile) ||
              (!whole && e->type != core::EntryType::kDirectory)) {
            in_the_way = e->path;
          }
          c.live_path = e->path + rest;
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
      if (!in_the_way.empty()) {
        blocked.add(finding(
            "NOT_RESTORABLE_HERE", Severity::kError, f.path,
            fmt::format("the backup's document \"{}\" would go to \"{}\" in {}, where \"{}\" is "
                        "{}; move it away and make a new plan",
                        c.path, c.live_path, p_.live_documents->string(), in_the_way,
                        c.replaces ? "not a regular file" : "not a folder")));
      }
      return list.add(c);
    }));
    blocked.finish();
    RK_TRY_ASSIGN(p_.chosen_documents, std::move(list).save());
    return {};
  }

  Plan& p_;
  const DocumentsInput& in_;
  const PlanOptions& o_;
  DocumentsOutcome out_;
  diff::FileWalk walk_;           // the documents the restore brings back
  std::string root_;              // the documents folder's path in the backup
  std::optional<Choice> choice_;  // a selective restore's documents
  std::optional<Tree> live_;      // live's documents, where apply needs them again
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
