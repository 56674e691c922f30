// A record restore (restore --row / --where): the chosen backup rows and their closure through
// foreign keys, classified against live and brought back inside the caller's transaction.
//
// The rows are keyed in temporary tables, one per table (temp.rk_rec_N: the key columns,
// whether the row's subtree is wanted, the action), so that every step is one SQL statement
// over whole sets and the key values keep their SQLite types:
//  1. seeds: the --row keys and the --where rows, read from the backup (rk_backup);
//  2. closure, until nothing grows: the backup rows that reference a wanted row (its subtree),
//     and the backup rows that a row needs as its parent and live lacks (only those, without
//     their own subtree);
//  3. classification against live by key: insert (live lacks it), unchanged, reused-key (live's
//     row with that key has other foreign-key values: another row), revert or kept (changed);
//     rows hanging off a reused key are blocked;
//  4. the inserts and reverts.
#include <algorithm>
#include <charconv>
#include <map>

#include <fmt/format.h>

#include "internal.hpp"

namespace restorekit::restore::detail {

namespace {

using core::quote_identifier;
using core::TableInfo;
using Action = RecordChange::Action;

using core::bind_typed;

// A column, or the rowid that a key falls back to.
bool has_column_or_rowid(const TableInfo& t, std::string_view c) {
  return c == "rowid" || core::has_column(t, c);
}

std::string action_text(Action a) {
  return std::string(record_action_name(a));
}

// A table a record restore may touch: in both databases, with the columns both have.
struct Node {
  const TableInfo* live = nullptr;
  const TableInfo* backup = nullptr;
  std::vector<std::string> key;      // the declared key, else {"rowid"}
  std::vector<std::string> columns;  // common to both sides
  std::vector<std::string> links;    // columns that tie a row to its parents (edges' `from`)
  std::string temp;                  // temp.rk_rec_N (qualified: live may have a table so named)
  bool rowid_key = false;
};

// child.from -> parent.to: a declared foreign key or a profile relation.
struct Edge {
  std::size_t child;
  std::size_t parent;
  std::vector<std::string> from;
  std::vector<std::string> to;
};

struct Graph {
  std::vector<Node> nodes;
  std::map<std::string, std::size_t> index;  // by table name
  std::vector<Edge> edges;
};

std::string list(const std::vector<std::string>& names, std::string_view prefix = "") {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    out += fmt::format("{}{}{}", i ? ", " : "", prefix, quote_identifier(names[i]));
  }
  return out;
}

// "a.x = b.y AND ..." over two column lists ("IS" compares NULLs as equal).
std::string pairs(std::string_view a, const std::vector<std::string>& x, std::string_view b,
                  const std::vector<std::string>& y, std::string_view op = "=") {
  std::string out;
  for (std::size_t i = 0; i < x.size(); ++i) {
    out += fmt::format("{}{}.{} {} {}.{}", i ? " AND " : "", a, quote_identifier(x[i]), op, b,
                       quote_identifier(y[i]));
  }
  return out;
}

std::vector<std::string> key_slots(std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(fmt::format("k{}", i));
  return out;
}

// The tables a record restore may touch (in both databases, not excluded) and the edges
// between them: declared foreign keys and the selection's relations.
Graph build_graph(const core::DatabaseSummary& live, const core::DatabaseSummary& backup,
                  const Selection& sel) {
  Graph g;
  for (const auto& t : live.tables) {
    if (t.kind != "table" || t.name.rfind("sqlite_", 0) == 0) continue;
    const TableInfo* b = core::find_table(backup, t.name);
    if (!b || b->kind != "table") continue;
    if (std::find(sel.exclude_tables.begin(), sel.exclude_tables.end(), t.name) !=
        sel.exclude_tables.end()) {
      continue;
    }
    Node n{&t, b, b->primary_key, {}, {}, fmt::format("temp.rk_rec_{}", g.nodes.size()), false};
    if (n.key.empty() || n.key != t.primary_key) n.key = {"rowid"};
    n.rowid_key = n.key == std::vector<std::string>{"rowid"};
    // The two sides key the table differently and one has no rowid: no row can be matched.
    if (n.rowid_key && (b->without_rowid || t.without_rowid)) continue;
    for (const auto& c : t.columns) {
      if (has_column_or_rowid(*b, c.name)) n.columns.push_back(c.name);
    }
    g.index[t.name] = g.nodes.size();
    g.nodes.push_back(std::move(n));
  }
  auto add_edge = [&](const std::string& child, const std::vector<std::string>& from,
                      const std::string& parent, std::vector<std::string> to) {
    auto c = g.index.find(child), p = g.index.find(parent);
    if (c == g.index.end() || p == g.index.end() || from.empty()) return;
    const Node& pn = g.nodes[p->second];
    if (to.empty() || std::all_of(to.begin(), to.end(), [](const auto& s) { return s.empty(); }))
      to = pn.key;
    if (to.size() != from.size()) return;
    for (const auto& f : from) {
      if (!has_column_or_rowid(*g.nodes[c->second].live, f) ||
          !has_column_or_rowid(*g.nodes[c->second].backup, f))
        return;
    }
    for (const auto& x : to) {
      if (!has_column_or_rowid(*pn.live, x) || !has_column_or_rowid(*pn.backup, x)) return;
    }
    auto& links = g.nodes[c->second].links;
    for (const auto& f : from) {
      if (std::find(links.begin(), links.end(), f) == links.end()) links.push_back(f);
    }
    g.edges.push_back(Edge{c->second, p->second, from, std::move(to)});
  };
  for (const auto& n : g.nodes) {
    for (const auto& fk : n.backup->foreign_keys) {
      add_edge(n.backup->name, fk.from, fk.table, fk.to);
    }
  }
  for (const auto& r : sel.relations) {
    add_edge(r.child.table, {r.child.column}, r.parent.table, {r.parent.column});
  }
  return g;
}

// "k0 = b.\"id\" AND ..." between a temp table's slots and a table's key.
std::string slots_match(const Node& n, std::string_view temp, std::string_view alias) {
  std::string out;
  for (std::size_t i = 0; i < n.key.size(); ++i) {
    out += fmt::format("{}{}.k{} = {}.{}", i ? " AND " : "", temp, i, alias,
                       quote_identifier(n.key[i]));
  }
  return out;
}

// Lists a table's rows (their keys as text, comma-separated) with what the restore does.
Result<void> list_rows(core::Database& db, const Node& n, RecordListWriter& list) {
  std::string key;
  for (std::size_t i = 0; i < n.key.size(); ++i) {
    key += fmt::format("{}coalesce(CAST(k{} AS TEXT), 'NULL')", i ? " || ',' || " : "", i);
  }
  RK_TRY_ASSIGN(auto st, db.prepare(fmt::format("SELECT {}, action FROM {} ORDER BY {}", key,
                                                n.temp, fmt::join(key_slots(n.key.size()), ", "))));
  return st.for_each([&]() -> Result<void> {
    std::string_view a = st.column_text(1);
    Action action = Action::kInsert;
    for (Action x : {Action::kInsert, Action::kRevert, Action::kUnchanged, Action::kKept,
                     Action::kReusedKey, Action::kBlocked}) {
      if (record_action_name(x) == a) action = x;
    }
    return list.add(n.live->name, st.column_text(0), action);
  });
}

// The document names that the rows brought back hold in the profile's reference columns.
Result<void> list_names(core::Database& db, const Node& n,
                        const std::vector<core::ColumnRef>& references, RecordListWriter& list) {
  for (const auto& ref : references) {
    if (ref.table != n.live->name || !has_column_or_rowid(*n.backup, ref.column)) continue;
    std::string col = "b." + quote_identifier(ref.column);
    RK_TRY_ASSIGN(auto st,
                  db.prepare(fmt::format(
                      "SELECT CAST({col} AS TEXT) FROM rk_backup.{t} b JOIN {tt} k ON {bk} "
                      "WHERE k.action IN ('{ins}', '{rev}') AND {col} IS NOT NULL AND {col} != ''",
                      fmt::arg("col", col), fmt::arg("t", quote_identifier(n.live->name)),
                      fmt::arg("tt", n.temp), fmt::arg("bk", slots_match(n, "k", "b")),
                      fmt::arg("ins", action_text(Action::kInsert)),
                      fmt::arg("rev", action_text(Action::kRevert)))));
    RK_TRY(st.for_each([&] { return list.add_name(st.column_text(0)); }));
  }
  return {};
}

// The rows a record restore starts from: the --row keys and the --where rows of the backup, into
// each table's set.
class Seeds {
 public:
  Seeds(core::Database& db, const Selection& sel, const Graph& g) : db_(db), sel_(sel), g_(g) {}

  Result<void> run(core::Database& backup_reader) {
    for (const auto& r : sel_.rows) RK_TRY(row(r));
    for (const auto& w : sel_.where) RK_TRY(where(w, backup_reader));
    return {};
  }

 private:
  Result<const Node*> node(const std::string& table) {
    auto it = g_.index.find(table);
    if (it == g_.index.end()) {
      return fail(ErrorCode::kInvalidArgument,
                  fmt::format("table \"{}\" is not in both the live database and the backup (or "
                              "is excluded); a record restore brings back rows of tables both "
                              "have",
                              table),
                  table);
    }
    return &g_.nodes[it->second];
  }

  Result<void> row(const RowRef& r) {
    RK_TRY_ASSIGN(const Node* n, node(r.table));
    if (r.key.size() != n->key.size()) {
      return fail(ErrorCode::kInvalidArgument,
                  fmt::format("{} has a key of {} column{} ({}); give --row {}:{}", r.table,
                              n->key.size(), n->key.size() == 1 ? "" : "s", fmt::join(n->key, ", "),
                              r.table, fmt::join(n->key, ",")),
                  r.table);
    }
    std::string match;
    for (std::size_t i = 0; i < n->key.size(); ++i) {
      match += fmt::format("{}{} = ?{}", i ? " AND " : "", quote_identifier(n->key[i]), i + 1);
    }
    RK_TRY_ASSIGN(
        auto st, db_.prepare(fmt::format("INSERT OR IGNORE INTO {} SELECT {}, 1, NULL FROM "
                                         "rk_backup.{} WHERE {}",
                                         n->temp, list(n->key), quote_identifier(r.table), match)));
    for (std::size_t i = 0; i < r.key.size(); ++i) {
      bind_typed(st, static_cast<int>(i) + 1, r.key[i]);
    }
    RK_TRY(st.run());
    if (db_.changes() == 0 && !seeded(*n, r)) {
      return fail(ErrorCode::kNotFound,
                  fmt::format("the backup has no row {} = {} in {}", fmt::join(n->key, ","),
                              fmt::join(r.key, ","), r.table),
                  r.table);
    }
    return {};
  }

  // A condition compiles and runs on the backup alone, read-only, before it is used.
  Result<void> where(const RowCondition& w, core::Database& backup_reader) {
    RK_TRY_ASSIGN(const Node* n, node(w.table));
    auto not_a_condition = [&](const Error& e) {
      return fail(ErrorCode::kInvalidArgument,
                  fmt::format("--where {} \"{}\" is not a condition on the backup's {}: {}",
                              w.table, w.sql, w.table, e.message),
                  w.table);
    };
    auto count = backup_reader.prepare_single(
        fmt::format("SELECT count(*) FROM {} WHERE ({})", quote_identifier(w.table), w.sql));
    if (!count) return not_a_condition(count.error());
    auto counted = count->step();
    if (!counted) return not_a_condition(counted.error());
    if (!*counted || count->column_int(0) == 0) {
      return fail(ErrorCode::kNotFound,
                  fmt::format("no row of the backup's {} meets \"{}\"", w.table, w.sql), w.table);
    }
    auto insert = db_.prepare_single(
        fmt::format("INSERT OR IGNORE INTO {} SELECT {}, 1, NULL FROM rk_backup.{} WHERE ({})",
                    n->temp, list(n->key), quote_identifier(w.table), w.sql));
    if (!insert) return not_a_condition(insert.error());
    RK_TRY(insert->run());
    return {};
  }

  // Whether a --row given twice is already there.
  bool seeded(const Node& n, const RowRef& r) {
    std::string match;
    for (std::size_t i = 0; i < n.key.size(); ++i) {
      match += fmt::format("{}k{} = ?{}", i ? " AND " : "", i, i + 1);
    }
    auto st = db_.prepare(fmt::format("SELECT count(*) FROM {} WHERE {}", n.temp, match));
    if (!st) return false;
    for (std::size_t i = 0; i < r.key.size(); ++i)
      bind_typed(*st, static_cast<int>(i) + 1, r.key[i]);
    auto row = st->step();
    return row && *row && st->column_int(0) > 0;
  }

  core::Database& db_;
  const Selection& sel_;
  const Graph& g_;
};

class Records {
 public:
  Records(core::Database& db, const Selection& sel, const std::vector<core::ColumnRef>& references,
          RecordListWriter* list)
      : db_(db), sel_(sel), references_(references), list_(list) {}

  Result<std::vector<TableChange>> run(const core::DatabaseSummary& live,
                                       const core::DatabaseSummary& backup,
                                       core::Database& backup_reader) {
    g_ = build_graph(live, backup, sel_);
    RK_TRY(make_temp_tables());
    auto done = [&]() -> Result<std::vector<TableChange>> {
      RK_TRY(Seeds(db_, sel_, g_).run(backup_reader));
      RK_TRY(close());
      RK_TRY(classify());
      return apply();
    }();
    drop_temp_tables();
    return done;
  }

 private:
  // Each slot takes the affinity of the backup's key column (CREATE TABLE AS gives a column its
  // expression's affinity): a slot without one could not be searched by its index when compared
  // with a key column, and every step that looks a row's key up would scan the set instead
  // (quadratic: hours for a few hundred thousand rows).
  Result<void> make_temp_tables() {
    for (const auto& n : g_.nodes) {
      auto k = key_slots(n.key.size());
      std::string slots;
      for (std::size_t i = 0; i < n.key.size(); ++i) {
        slots += fmt::format("{}{} AS k{}", i ? ", " : "", quote_identifier(n.key[i]), i);
      }
      RK_TRY(db_.exec(fmt::format(
          "DROP TABLE IF EXISTS {tt}; CREATE TABLE {tt} AS SELECT {slots}, 0 AS subtree, NULL AS "
          "action FROM rk_backup.{t} LIMIT 0; CREATE UNIQUE INDEX {tt}_key ON {name}({k})",
          fmt::arg("tt", n.temp), fmt::arg("slots", slots),
          fmt::arg("t", quote_identifier(n.live->name)),
          fmt::arg("name", n.temp.substr(n.temp.find('.') + 1)),
          fmt::arg("k", fmt::join(k, ", ")))));
    }
    return {};
  }

  void drop_temp_tables() {
    for (const auto& n : g_.nodes) (void)db_.exec(fmt::format("DROP TABLE IF EXISTS {}", n.temp));
  }

  // Runs `step` over every edge (child, parent), round after round, until a round changes no
  // row; `step` returns the rows it changed.
  template <typename Step>
  Result<void> until_still(Step step) {
    for (;;) {
      std::int64_t changed = 0;
      for (const auto& e : g_.edges) {
        RK_TRY_ASSIGN(std::int64_t n, step(g_.nodes[e.child], g_.nodes[e.parent], e));
        changed += n;
      }
      if (changed == 0) return {};
    }
  }

  // Grows the sets until a round adds nothing.
  Result<void> close() {
    return until_still([&](const Node& c, const Node& p, const Edge& e) -> Result<std::int64_t> {
      // The rows that reference a wanted row: its subtree.
      RK_TRY(db_.exec(fmt::format(
          "INSERT INTO {ct} SELECT {ckey}, 1, NULL FROM rk_backup.{c} c JOIN rk_backup.{p} p ON "
          "{join} JOIN {pt} k ON {pk} WHERE k.subtree = 1 "
          "ON CONFLICT DO UPDATE SET subtree = 1 WHERE subtree = 0",
          fmt::arg("ct", c.temp), fmt::arg("ckey", list(c.key, "c.")),
          fmt::arg("c", quote_identifier(c.live->name)),
          fmt::arg("p", quote_identifier(p.live->name)),
          fmt::arg("join", pairs("c", e.from, "p", e.to)), fmt::arg("pt", p.temp),
          fmt::arg("pk", slots_match(p, "k", "p")))));
      std::int64_t grown = db_.changes();
      // The parents a row needs that live lacks (without their own subtree).
      RK_TRY(db_.exec(fmt::format(
          "INSERT INTO {pt} SELECT DISTINCT {pkey}, 0, NULL FROM rk_backup.{p} p JOIN "
          "rk_backup.{c} c ON {join} JOIN {ct} k ON {ck} WHERE NOT EXISTS (SELECT 1 FROM "
          "main.{p} l WHERE {live}) ON CONFLICT DO NOTHING",
          fmt::arg("pt", p.temp), fmt::arg("pkey", list(p.key, "p.")),
          fmt::arg("p", quote_identifier(p.live->name)),
          fmt::arg("c", quote_identifier(c.live->name)),
          fmt::arg("join", pairs("c", e.from, "p", e.to)), fmt::arg("ct", c.temp),
          fmt::arg("ck", slots_match(c, "k", "c")),
          fmt::arg("live", pairs("l", e.to, "p", e.to)))));
      return grown + db_.changes();
    });
  }

  Result<void> classify() {
    for (const auto& n : g_.nodes) {
      std::string t = quote_identifier(n.live->name);
      std::string same = pairs("l", n.columns, "b", n.columns, "IS");
      std::string other_row =
          n.links.empty() ? "0" : fmt::format("NOT ({})", pairs("l", n.links, "b", n.links, "IS"));
      RK_TRY(db_.exec(fmt::format(
          "UPDATE {tt} AS k SET action = (SELECT CASE WHEN l.{k0} IS NULL THEN '{ins}' "
          "WHEN {same} THEN '{unchanged}' WHEN {other} THEN '{reused}' ELSE '{changed}' END "
          "FROM rk_backup.{t} b LEFT JOIN main.{t} l ON {lk} WHERE {bk})",
          fmt::arg("tt", n.temp), fmt::arg("k0", quote_identifier(n.key[0])),
          fmt::arg("ins", action_text(Action::kInsert)),
          fmt::arg("same", same.empty() ? "1" : same),
          fmt::arg("unchanged", action_text(Action::kUnchanged)), fmt::arg("other", other_row),
          fmt::arg("reused", action_text(Action::kReusedKey)),
          fmt::arg("changed", action_text(sel_.revert_changed ? Action::kRevert : Action::kKept)),
          fmt::arg("t", t), fmt::arg("lk", pairs("l", n.key, "b", n.key)),
          fmt::arg("bk", slots_match(n, "k", "b")))));
    }
    // A row whose parent's key live reuses for another row would hang off that other row.
    return until_still([&](const Node& c, const Node& p, const Edge& e) -> Result<std::int64_t> {
      RK_TRY(db_.exec(fmt::format(
          "UPDATE {ct} AS x SET action = '{blocked}' WHERE action IN ('{ins}', '{rev}') AND "
          "EXISTS (SELECT 1 FROM rk_backup.{c} c JOIN rk_backup.{p} p ON {join} JOIN {pt} k ON "
          "{pk} WHERE {xc} AND k.action IN ('{reused}', '{blocked}'))",
          fmt::arg("ct", c.temp), fmt::arg("blocked", action_text(Action::kBlocked)),
          fmt::arg("ins", action_text(Action::kInsert)),
          fmt::arg("rev", action_text(Action::kRevert)),
          fmt::arg("c", quote_identifier(c.live->name)),
          fmt::arg("p", quote_identifier(p.live->name)),
          fmt::arg("join", pairs("c", e.from, "p", e.to)), fmt::arg("pt", p.temp),
          fmt::arg("pk", slots_match(p, "k", "p")), fmt::arg("xc", slots_match(c, "x", "c")),
          fmt::arg("reused", action_text(Action::kReusedKey)))));
      return db_.changes();
    });
  }

  Result<std::vector<TableChange>> apply() {
    std::vector<TableChange> out;
    for (const auto& n : g_.nodes) {
      std::string t = quote_identifier(n.live->name);
      std::string cols = list(n.columns);
      std::string key_cols = n.rowid_key ? "rowid, " : "";
      TableChange change{n.live->name};
      RK_TRY(db_.exec(fmt::format(
          "INSERT INTO main.{t} ({kc}{cols}) SELECT {bkc}{bcols} FROM rk_backup.{t} b JOIN {tt} "
          "k ON {bk} WHERE k.action = '{ins}'",
          fmt::arg("t", t), fmt::arg("kc", key_cols), fmt::arg("cols", cols),
          fmt::arg("bkc", n.rowid_key ? "b.rowid, " : ""), fmt::arg("bcols", list(n.columns, "b.")),
          fmt::arg("tt", n.temp), fmt::arg("bk", slots_match(n, "k", "b")),
          fmt::arg("ins", action_text(Action::kInsert)))));
      change.inserted = static_cast<std::uint64_t>(db_.changes());
      RK_TRY(db_.exec(fmt::format(
          "UPDATE main.{t} AS l SET ({cols}) = (SELECT {bcols} FROM rk_backup.{t} b WHERE {lb}) "
          "WHERE ({lkey}) IN (SELECT {k} FROM {tt} WHERE action = '{rev}')",
          fmt::arg("t", t), fmt::arg("cols", cols), fmt::arg("bcols", list(n.columns, "b.")),
          fmt::arg("lb", pairs("b", n.key, "l", n.key)), fmt::arg("lkey", list(n.key, "l.")),
          fmt::arg("k", fmt::join(key_slots(n.key.size()), ", ")), fmt::arg("tt", n.temp),
          fmt::arg("rev", action_text(Action::kRevert)))));
      change.reverted = static_cast<std::uint64_t>(db_.changes());
      if (list_) {
        RK_TRY(list_rows(db_, n, *list_));
        RK_TRY(list_names(db_, n, references_, *list_));
      }
      if (change.inserted || change.reverted) out.push_back(std::move(change));
    }
    return out;
  }

  core::Database& db_;
  const Selection& sel_;
  const std::vector<core::ColumnRef>& references_;
  RecordListWriter* list_;  // none: apply, which lists nothing
  Graph g_;
};

}  // namespace

Result<std::vector<TableChange>> run_records(
    core::Database& target, const core::DatabaseSummary& live, const core::DatabaseSummary& backup,
    core::Database& backup_reader, const Selection& selection,
    const std::vector<core::ColumnRef>& references, RecordListWriter* list) {
  return Records(target, selection, references, list).run(live, backup, backup_reader);
}

}  // namespace restorekit::restore::detail

namespace restorekit::restore {

std::string_view record_action_name(RecordChange::Action action) {
  switch (action) {
    case RecordChange::Action::kInsert: return "insert";
    case RecordChange::Action::kRevert: return "revert";
    case RecordChange::Action::kUnchanged: return "unchanged";
    case RecordChange::Action::kKept: return "kept";
    case RecordChange::Action::kReusedKey: return "reused-key";
    case RecordChange::Action::kBlocked: return "blocked";
  }
  return "insert";
}

}  // namespace restorekit::restore
