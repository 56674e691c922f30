#include "render_report.hpp"

#include <algorithm>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>
#include <mstch/mstch.hpp>

#include <restorekit/core/safe_path.hpp>

#include "render_common.hpp"
#include "report_templates.hpp"

namespace restorekit::cli {

namespace {

constexpr std::size_t kMaxBars = 12;     // rows of a chart; the rest are folded into one line
constexpr std::size_t kMaxSamples = 10;  // document names shown per kind
constexpr double kBarWidth = 320;        // SVG user units of the longest bar

// A value from a backup, a database or the file system, made printable: escape_name shows
// control, bidi and invisible characters as escapes; Markdown's own punctuation is escaped
// too (HTML's is the template's job: mstch escapes every {{value}}).
class Text {
 public:
  explicit Text(ReportFormat f) : format_(f) {}
  [[nodiscard]] std::string operator()(std::string_view raw) const {
    std::string s = core::escape_name(raw);
    if (format_ == ReportFormat::kHtml) return s;
    std::string out;
    for (char c : s) {
      if (std::string_view("\\`*_[]|~").find(c) != std::string_view::npos) out += '\\';
      out += c;
    }
    return out;
  }

 private:
  ReportFormat format_;
};

std::string seconds_text(double s) {
  return s < 1 ? fmt::format("{:.0f} ms", s * 1000) : fmt::format("{:.1f} s", s);
}

// One chart row: lost, revived and reverted as three bars (SVG geometry) and as text.
struct Bar {
  std::string name;
  std::uint64_t lost = 0, revived = 0, reverted = 0;
  [[nodiscard]] std::uint64_t total() const { return lost + revived + reverted; }
};

mstch::map bar_node(const Bar& b, std::uint64_t largest, const Text& text) {
  double scale = largest ? kBarWidth / static_cast<double>(largest) : 0;
  double w1 = static_cast<double>(b.lost) * scale;
  double w2 = static_cast<double>(b.revived) * scale;
  double w3 = static_cast<double>(b.reverted) * scale;
  // A block-character bar of up to 20 cells for Markdown.
  auto cells = largest
                   ? static_cast<std::size_t>(
                         20.0 * static_cast<double>(b.total()) / static_cast<double>(largest) + 0.5)
                   : 0;
  std::string blocks;
  for (std::size_t i = 0; i < std::max<std::size_t>(cells, b.total() ? 1 : 0); ++i) blocks += "█";
  return mstch::map{{"name", text(b.name)},
                    {"lost", grouped(b.lost)},
                    {"revived", grouped(b.revived)},
                    {"reverted", grouped(b.reverted)},
                    {"total", grouped(b.total())},
                    {"w_lost", fmt::format("{:.1f}", w1)},
                    {"x_revived", fmt::format("{:.1f}", w1)},
                    {"w_revived", fmt::format("{:.1f}", w2)},
                    {"x_reverted", fmt::format("{:.1f}", w1 + w2)},
                    {"w_reverted", fmt::format("{:.1f}", w3)},
                    {"blocks", blocks}};
}

// The largest rows first; past kMaxBars the rest are summed into `folded`.
mstch::map chart(std::vector<Bar> bars, const Text& text, std::string_view what) {
  bars.erase(std::remove_if(bars.begin(), bars.end(), [](const Bar& b) { return !b.total(); }),
             bars.end());
  std::stable_sort(bars.begin(), bars.end(),
                   [](const Bar& a, const Bar& b) { return a.total() > b.total(); });
  std::uint64_t largest = bars.empty() ? 0 : bars.front().total();
  mstch::array rows;
  Bar rest;
  std::size_t folded = 0;
  for (std::size_t i = 0; i < bars.size(); ++i) {
    if (i < kMaxBars) {
      rows.emplace_back(bar_node(bars[i], largest, text));
      continue;
    }
    ++folded;
    rest.lost += bars[i].lost;
    rest.revived += bars[i].revived;
    rest.reverted += bars[i].reverted;
  }
  mstch::map out{{"rows", rows},
                 {"any", !bars.empty()},
                 {"id", std::string(what) + "s"},  // chart-tables, chart-tenants
                 {"label", std::string(what)}};
  if (folded) {
    out["folded"] = mstch::map{{"count", grouped(folded)},
                               {"what", std::string(what) + (folded == 1 ? "" : "s")},
                               {"lost", grouped(rest.lost)},
                               {"revived", grouped(rest.revived)},
                               {"reverted", grouped(rest.reverted)}};
  }
  return out;
}

mstch::array findings_of(const std::vector<core::Finding>& all, core::Severity severity,
                         const Text& text) {
  mstch::array out;
  for (const auto& f : all) {
    if (f.severity != severity) continue;
    out.emplace_back(mstch::map{{"code", text(f.code)},
                                {"entry", text(f.entry)},
                                {"has_entry", !f.entry.empty()},
                                {"message", text(f.message)}});
  }
  return out;
}

mstch::map findings_node(const std::vector<core::Finding>& all, const Text& text) {
  mstch::array groups;
  for (auto [severity, title] : {std::pair{core::Severity::kError, "Errors"},
                                 std::pair{core::Severity::kWarning, "Warnings"},
                                 std::pair{core::Severity::kInfo, "Notes"}}) {
    auto items = findings_of(all, severity, text);
    if (items.empty()) continue;
    groups.emplace_back(mstch::map{{"title", std::string(title)},
                                   {"severity", std::string(core::severity_name(severity))},
                                   {"count", grouped(items.size())},
                                   {"items", items}});
  }
  return mstch::map{{"groups", groups}, {"none", groups.empty()}};
}

mstch::map facts_node(const verify::VerifyReport& v, const Text& text) {
  std::string format = v.archive.format;
  for (const auto& f : v.archive.filters) format += "." + f;
  mstch::array databases;
  for (const auto& d : v.databases) {
    databases.emplace_back(mstch::map{{"entry", text(d.entry)},
                                      {"bytes", human_bytes(d.bytes)},
                                      {"tables", grouped(d.tables)},
                                      {"integrity", std::string(d.integrity_ok ? "ok" : "damaged")},
                                      {"integrity_ok", d.integrity_ok},
                                      {"fk", grouped(d.foreign_key_violations)},
                                      {"user_version", fmt::format("{}", d.user_version)}});
  }
  mstch::array tables;
  for (const auto& db : v.summary.databases) {
    for (const auto& t : db.tables) {
      tables.emplace_back(mstch::map{
          {"database", text(db.entry)}, {"name", text(t.name)}, {"rows", grouped(t.rows)}});
    }
  }
  std::string created;
  if (v.summary.header) created = text(v.summary.header->created_at);
  return mstch::map{
      {"path", text(v.path)},
      {"format", text(format.empty() ? "unknown" : format)},
      {"made_by", std::string(v.kind == core::BackupKind::kRestorekit ? "restorekit backup"
                                                                      : "foreign archive")},
      {"created", created},
      {"has_created", !created.empty()},
      {"archive_bytes", human_bytes(v.archive_bytes)},
      {"entries", grouped(v.entries)},
      {"payload", human_bytes(v.bytes)},
      {"documents", grouped(v.summary.document_files)},
      {"document_bytes", human_bytes(v.summary.document_bytes)},
      {"databases", databases},
      {"has_databases", !databases.empty()},
      {"tables", tables},
      {"has_tables", !tables.empty()},
      {"seconds", seconds_text(v.seconds)}};
}

mstch::array names(const std::vector<std::string>& samples, const Text& text) {
  mstch::array out;
  for (std::size_t i = 0; i < samples.size() && i < kMaxSamples; ++i) {
    out.emplace_back(mstch::map{{"name", text(samples[i])}});
  }
  return out;
}

mstch::map effects_node(const restore::Plan& p, const Text& text) {
  const auto& db = p.effects.database;
  std::vector<Bar> tables, tenants;
  for (const auto& t : db.tables) tables.push_back({t.name, t.lost, t.revived, t.reverted});
  for (const auto& t : db.tenants) {
    std::string name = t.label.empty() ? t.id : fmt::format("{} ({})", t.label, t.id);
    tenants.push_back({name, t.lost, t.revived, t.reverted});
  }
  mstch::map out{{"live", text(p.live.string())},
                 {"lost", grouped(db.lost)},
                 {"revived", grouped(db.revived)},
                 {"reverted", grouped(db.reverted)},
                 {"tables", chart(tables, text, "table")},
                 {"tenants", chart(tenants, text, "tenant")},
                 {"has_tenants", !tenants.empty()},
                 {"downtime", seconds_text(p.predicted_apply_seconds)}};
  mstch::array schema;
  for (const auto& c : db.schema_changes) schema.emplace_back(mstch::map{{"text", text(c)}});
  for (const auto& t : db.tables) {
    for (const auto& c : t.schema_changes) {
      schema.emplace_back(mstch::map{{"text", text(fmt::format("{}: {}", t.name, c))}});
    }
  }
  out["schema_changes"] = schema;
  out["has_schema_changes"] = !schema.empty();
  if (const auto& d = p.effects.documents) {
    out["documents"] = mstch::map{{"lost", grouped(d->lost)},
                                  {"revived", grouped(d->revived)},
                                  {"changed", grouped(d->changed)},
                                  {"unchanged", grouped(d->unchanged)},
                                  {"lost_names", names(d->lost_samples, text)},
                                  {"has_lost_names", !d->lost_samples.empty()},
                                  {"revived_names", names(d->revived_samples, text)},
                                  {"has_revived_names", !d->revived_samples.empty()},
                                  {"changed_names", names(d->changed_samples, text)},
                                  {"has_changed_names", !d->changed_samples.empty()}};
  }
  return out;
}

// The same file, however it was named.
bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  auto ca = std::filesystem::weakly_canonical(a, ec);
  auto cb = std::filesystem::weakly_canonical(b, ec);
  return ec ? a == b : ca == cb;
}

mstch::map timeline_node(const std::vector<catalog::Row>& rows, const std::string& current,
                         const Text& text) {
  mstch::array out;
  for (const auto& r : rows) {
    std::string status(catalog::status_name(r.status));
    out.emplace_back(mstch::map{{"created", utc_minute(r.created)},
                                {"size", human_bytes(r.summary.archive_bytes)},
                                {"status", status},
                                {"intact", r.status == catalog::Status::kIntact},
                                {"path", text(r.summary.path)},
                                {"current", same_file(r.summary.path, current)}});
  }
  return mstch::map{{"rows", out}, {"any", !out.empty()}};
}

std::string verdict_sentence(const ReportInput& in) {
  const auto& v = *in.verification;
  switch (v.verdict()) {
    case core::Verdict::kIntact:
      return v.count(core::Severity::kWarning)
                 ? fmt::format(
                       "The backup is intact (every byte read and checked), with {} "
                       "warning{}.",
                       v.count(core::Severity::kWarning),
                       v.count(core::Severity::kWarning) == 1 ? "" : "s")
                 : "The backup is intact: every byte was read and checked.";
    case core::Verdict::kDamaged:
      return fmt::format("The backup is damaged: {} error{} (below). Pick another backup.",
                         v.count(core::Severity::kError),
                         v.count(core::Severity::kError) == 1 ? "" : "s");
    case core::Verdict::kLocked:
      return "The backup is encrypted and could not be read: give its password.";
  }
  return {};
}

}  // namespace

std::string report_verdict(const ReportInput& in) {
  std::string v(core::verdict_name(in.verification->verdict()));
  if (in.plan && v != "locked") return in.plan->safe() ? "safe" : "blocked";
  return v;
}

std::string render_report(const ReportInput& in, ReportFormat format) {
  Text text(format);
  const auto& v = *in.verification;
  std::string verdict = report_verdict(in);
  mstch::map context{{"title", text(fmt::format("Backup report: {}", v.path))},
                     {"generated_at", in.generated_at},
                     {"verdict", verdict},
                     {"good", verdict == "intact" || verdict == "safe"},
                     {"verdict_sentence", text(verdict_sentence(in))},
                     {"facts", facts_node(v, text)},
                     {"findings", findings_node(in.plan ? in.plan->checks : v.findings, text)},
                     {"timeline", timeline_node(in.timeline, v.path, text)}};
  if (in.plan) {
    context["effects"] = effects_node(*in.plan, text);
    context["restore_sentence"] =
        text(in.plan->safe() ? fmt::format("Restoring it into {} is safe: every check passed.",
                                           in.plan->live.string())
                             : fmt::format("Restoring it into {} is blocked: see the errors "
                                           "below.",
                                           in.plan->live.string()));
  }
  if (format == ReportFormat::kHtml) {
    return mstch::render(std::string(kReportHtml), context, {{"chart", std::string(kChartHtml)}});
  }
  // Markdown is read as text too: only what would start HTML is escaped (Text escaped
  // Markdown's own punctuation), not every quote and slash as for an HTML page.
  auto html_escape = mstch::config::escape;
  mstch::config::escape = [](const std::string& s) {
    std::string out;
    for (char c : s) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        default: out += c;
      }
    }
    return out;
  };
  std::string md = mstch::render(std::string(kReportMarkdown), context,
                                 {{"chart", std::string(kChartMarkdown)}});
  mstch::config::escape = html_escape;
  return md;
}

}  // namespace restorekit::cli
