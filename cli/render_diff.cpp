#include "render_diff.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <restorekit/core/safe_path.hpp>
#include <restorekit/core/version.hpp>

#include "render_common.hpp"

namespace restorekit::cli {

namespace {

using json = nlohmann::ordered_json;
using core::escape_name;

std::string plural(std::uint64_t n, std::string_view word) {
  return fmt::format("{} {}{}", grouped(n), word, n == 1 ? "" : "s");
}

// What a full restore would do, in words.
std::string summary_sentence(const diff::DiffReport& r) {
  const auto& d = r.database;
  std::vector<std::string> parts;
  if (d.lost)
    parts.push_back(fmt::format("loses {} created since the backup", plural(d.lost, "row")));
  if (d.reverted) {
    parts.push_back(fmt::format("reverts {} changed since the backup", plural(d.reverted, "row")));
  }
  if (d.revived) {
    parts.push_back(
        fmt::format("brings back {} deleted since the backup", plural(d.revived, "row")));
  }
  if (r.documents) {
    const auto& docs = *r.documents;
    if (docs.lost) {
      parts.push_back(fmt::format("deletes {} ({}) added since", plural(docs.lost, "document"),
                                  human_bytes(docs.lost_bytes)));
    }
    if (docs.changed) parts.push_back(fmt::format("reverts {}", plural(docs.changed, "document")));
    if (docs.revived) parts.push_back(fmt::format("restores {}", plural(docs.revived, "document")));
  }
  if (parts.empty()) return "a restore changes nothing: live equals the backup";
  std::string out = "a restore ";
  for (std::size_t i = 0; i < parts.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == parts.size() ? " and " : ", ") + parts[i];
  }
  return out;
}

void render_samples(const diff::TableDiff& t, std::ostream& out) {
  for (const auto& s : t.lost_samples) fmt::print(out, "      lost      {}\n", escape_name(s.key));
  for (const auto& s : t.revived_samples)
    fmt::print(out, "      revived   {}\n", escape_name(s.key));
  for (const auto& s : t.reverted_samples) {
    fmt::print(out, "      reverted  {}\n", escape_name(s.key));
    for (const auto& c : s.changes) {
      fmt::print(out, "                  {}: {} -> {}\n", escape_name(c.column),
                 escape_name(c.live), escape_name(c.backup));
    }
  }
}

json samples_json(const std::vector<diff::RowSample>& samples) {
  json out = json::array();
  for (const auto& s : samples) {
    json changes = json::array();
    for (const auto& c : s.changes) {
      changes.push_back({{"column", c.column}, {"live", c.live}, {"backup", c.backup}});
    }
    out.push_back({{"key", s.key}, {"changes", changes}});
  }
  return out;
}

}  // namespace

void render_diff_text(const diff::DiffReport& r, std::ostream& out) {
  const auto& d = r.database;
  fmt::print(out, "{:<28} {:>10} {:>10} {:>10} {:>10}\n", "table", "lost", "revived", "reverted",
             "unchanged");
  for (const auto& t : d.tables) {
    std::string name = escape_name(t.name) + (t.only_in_live     ? " (live only)"
                                              : t.only_in_backup ? " (backup only)"
                                                                 : "");
    fmt::print(out, "{:<28} {:>10} {:>10} {:>10} {:>10}\n", name, grouped(t.lost),
               grouped(t.revived), grouped(t.reverted), grouped(t.unchanged));
    for (const auto& c : t.schema_changes) fmt::print(out, "    schema: {}\n", c);
    render_samples(t, out);
  }
  fmt::print(out, "{:<28} {:>10} {:>10} {:>10}\n", "total", grouped(d.lost), grouped(d.revived),
             grouped(d.reverted));
  for (const auto& c : d.schema_changes) fmt::print(out, "schema: {}\n", c);
  if (!d.tenants.empty()) {
    // The most affected tenants first; --json lists every tenant in id order.
    constexpr std::size_t kShown = 10;
    std::vector<const diff::TenantDiff*> order;
    for (const auto& t : d.tenants) order.push_back(&t);
    auto weight = [](const diff::TenantDiff* t) { return t->lost + t->revived + t->reverted; };
    std::stable_sort(order.begin(), order.end(),
                     [&](const auto* a, const auto* b) { return weight(a) > weight(b); });
    fmt::print(
        out, "\n{:<8} {:<30} {:>10} {:>10} {:>10}{}\n", "tenant", "label", "lost", "revived",
        "reverted",
        order.size() > kShown
            ? fmt::format("   (the {} most affected of {}; --json lists all)", kShown, order.size())
            : "");
    if (order.size() > kShown) order.resize(kShown);
    for (const auto* tp : order) {
      const auto& t = *tp;
      fmt::print(out, "{:<8} {:<30} {:>10} {:>10} {:>10}\n", escape_name(t.id),
                 escape_name(t.label), grouped(t.lost), grouped(t.revived), grouped(t.reverted));
    }
  }
  if (r.documents) {
    const auto& docs = *r.documents;
    fmt::print(out,
               "\ndocuments (backup root \"{}\"): {} lost, {} revived, {} changed, {} unchanged\n",
               escape_name(docs.root), grouped(docs.lost), grouped(docs.revived),
               grouped(docs.changed), grouped(docs.unchanged));
    for (const auto& p : docs.lost_samples) fmt::print(out, "      lost      {}\n", escape_name(p));
    for (const auto& p : docs.revived_samples)
      fmt::print(out, "      revived   {}\n", escape_name(p));
    for (const auto& p : docs.changed_samples)
      fmt::print(out, "      changed   {}\n", escape_name(p));
    for (const auto& [a, b] : docs.live_duplicates) {
      fmt::print(out,
                 "      DUPLICATE_ENTRY live \"{}\" and \"{}\" are one name in two Unicode "
                 "spellings\n",
                 escape_name(a), escape_name(b));
    }
  }
  fmt::print(out, "\n{}.\n", summary_sentence(r));
}

json diff_json(const diff::DiffReport& r) {
  const auto& d = r.database;
  json tables = json::array();
  for (const auto& t : d.tables) {
    tables.push_back({{"name", t.name},
                      {"key", t.key},
                      {"lost", t.lost},
                      {"revived", t.revived},
                      {"reverted", t.reverted},
                      {"unchanged", t.unchanged},
                      {"unchanged_unread", t.unchanged_unread},
                      {"only_in_live", t.only_in_live},
                      {"only_in_backup", t.only_in_backup},
                      {"schema_changes", t.schema_changes},
                      {"samples",
                       {{"lost", samples_json(t.lost_samples)},
                        {"revived", samples_json(t.revived_samples)},
                        {"reverted", samples_json(t.reverted_samples)}}}});
  }
  json tenants = json::array();
  for (const auto& t : d.tenants) {
    tenants.push_back({{"id", t.id},
                       {"label", t.label},
                       {"lost", t.lost},
                       {"revived", t.revived},
                       {"reverted", t.reverted}});
  }
  json documents = nullptr;
  if (r.documents) {
    const auto& docs = *r.documents;
    documents = {{"root", docs.root},
                 {"lost", docs.lost},
                 {"revived", docs.revived},
                 {"changed", docs.changed},
                 {"unchanged", docs.unchanged},
                 {"lost_bytes", docs.lost_bytes},
                 {"samples",
                  {{"lost", docs.lost_samples},
                   {"revived", docs.revived_samples},
                   {"changed", docs.changed_samples}}},
                 {"live_duplicates", docs.live_duplicates}};
  }
  return {{"schema", core::schema::kDiff},
          {"backup_database", r.backup_database},
          {"changed", r.changed()},
          {"tables", tables},
          {"totals", {{"lost", d.lost}, {"revived", d.revived}, {"reverted", d.reverted}}},
          {"tenants", tenants},
          {"schema_changes", d.schema_changes},
          {"documents", documents},
          {"summary", summary_sentence(r)}};
}

}  // namespace restorekit::cli
