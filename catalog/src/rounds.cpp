// The verify rounds that catalog workers share (Index::open_round .. last_round): the claim
// protocol, on either store.
#include <restorekit/catalog/index.hpp>

#include <fmt/format.h>

#include "store.hpp"

namespace restorekit::catalog {

using detail::now_seconds;
using detail::query_int;

Result<std::optional<std::int64_t>> Index::open_round() {
  return query_int(*store_,
                   "SELECT id FROM rounds WHERE finished_at IS NULL ORDER BY id DESC "
                   "LIMIT 1");
}

Result<std::int64_t> Index::start_round(const std::vector<std::string>& archives) {
  std::int64_t id = 0;
  auto started = in_transaction([&]() -> Result<void> {
    // SQLite's BEGIN IMMEDIATE already lets one writer in; a server needs the lock.
    if (store_->dialect() == detail::Dialect::kPostgres) {
      RK_TRY(store_->exec("SELECT pg_advisory_xact_lock(7262173546173744)"));
    }
    RK_TRY_ASSIGN(auto open, open_round());
    if (open) {
      id = *open;
      return {};
    }
    if (archives.empty()) return {};
    RK_TRY_ASSIGN(auto q,
                  store_->prepare("INSERT INTO rounds(started_at) VALUES(?1) RETURNING id"));
    q->bind(1, now_seconds());
    RK_TRY(q->each([&](const detail::Row& r) -> Result<void> {
      id = r.integer(0);
      return {};
    }));
    RK_TRY_ASSIGN(auto item, store_->prepare("INSERT INTO round_items(round, archive, state) "
                                             "VALUES(?1, ?2, 'todo') ON CONFLICT DO NOTHING"));
    for (const auto& a : archives) {
      item->bind(1, id);
      item->bind(2, std::string_view(a));
      RK_TRY(item->run());
    }
    return {};
  });
  RK_TRY(started);
  return id;
}

Result<std::optional<std::string>> Index::claim(std::int64_t round, const std::string& worker,
                                                std::int64_t now_ms,
                                                std::int64_t expired_before_ms) {
  // One statement: the choice and the claim cannot be torn apart. On a server, FOR UPDATE
  // SKIP LOCKED lets concurrent workers pass each other's candidates instead of queueing on
  // them; SQLite runs one writer at a time. The partial index of archives not done makes the
  // next one a short walk however far the round is (without it, claims slowed as it went).
  RK_TRY_ASSIGN(
      auto q,
      store_->prepare(fmt::format(
          "UPDATE round_items SET state = 'claimed', worker = ?3, claims = claims + 1, "
          "heartbeat_ms = ?4 WHERE round = ?1 AND archive = (SELECT archive FROM round_items "
          "WHERE round = ?1 AND state <> 'done' AND (state = 'todo' OR (state = 'claimed' AND "
          "heartbeat_ms < ?2)) ORDER BY archive LIMIT 1{}) RETURNING archive",
          store_->dialect() == detail::Dialect::kPostgres ? " FOR UPDATE SKIP LOCKED" : "")));
  q->bind(1, round);
  q->bind(2, expired_before_ms);
  q->bind(3, std::string_view(worker));
  q->bind(4, now_ms);
  std::optional<std::string> out;
  RK_TRY(q->each([&](const detail::Row& r) -> Result<void> {
    out = r.text(0);
    return {};
  }));
  return out;
}

Result<bool> Index::heartbeat(std::int64_t round, const std::string& archive,
                              const std::string& worker, std::int64_t now_ms) {
  RK_TRY_ASSIGN(auto q, store_->prepare("UPDATE round_items SET heartbeat_ms = ?4 WHERE round = "
                                        "?1 AND archive = ?2 AND worker = ?3 AND state = "
                                        "'claimed' RETURNING archive"));
  q->bind(1, round);
  q->bind(2, std::string_view(archive));
  q->bind(3, std::string_view(worker));
  q->bind(4, now_ms);
  bool held = false;
  RK_TRY(q->each([&](const detail::Row&) -> Result<void> {
    held = true;
    return {};
  }));
  return held;
}

Result<void> Index::finish(std::int64_t round, const std::string& archive, std::string_view verdict,
                           const std::string& message) {
  RK_TRY_ASSIGN(auto q, store_->prepare("UPDATE round_items SET state = 'done', finishes = "
                                        "finishes + 1, verdict = ?3, message = ?4 WHERE round = "
                                        "?1 AND archive = ?2"));
  q->bind(1, round);
  q->bind(2, std::string_view(archive));
  q->bind(3, verdict);
  q->bind(4, std::string_view(message));
  return q->run();
}

Result<bool> Index::close_round_if_done(std::int64_t round) {
  RK_TRY_ASSIGN(auto q, store_->prepare("UPDATE rounds SET finished_at = ?2 WHERE id = ?1 AND "
                                        "finished_at IS NULL AND NOT EXISTS (SELECT 1 FROM "
                                        "round_items WHERE round = ?1 AND state <> 'done')"));
  q->bind(1, round);
  q->bind(2, now_seconds());
  RK_TRY(q->run());
  RK_TRY_ASSIGN(auto open, query_int(*store_, fmt::format("SELECT count(*) FROM rounds WHERE id "
                                                          "= {} AND finished_at IS NULL",
                                                          round)));
  return open.value_or(0) == 0;
}

Result<std::optional<Index::Round>> Index::last_round() {
  std::optional<Round> out;
  RK_TRY_ASSIGN(auto q, store_->prepare("SELECT id, started_at, finished_at FROM rounds ORDER BY "
                                        "id DESC LIMIT 1"));
  RK_TRY(q->each([&](const detail::Row& r) -> Result<void> {
    out = Round{r.integer(0),
                r.integer(1),
                r.null(2) ? std::nullopt : std::optional<std::int64_t>(r.integer(2)),
                {}};
    return {};
  }));
  if (!out) return out;
  RK_TRY_ASSIGN(auto items, store_->prepare("SELECT archive, state, worker, claims, finishes, "
                                            "heartbeat_ms, verdict, message FROM round_items "
                                            "WHERE round = ?1 ORDER BY archive"));
  items->bind(1, out->id);
  RK_TRY(items->each([&](const detail::Row& r) -> Result<void> {
    out->items.push_back(
        RoundItem{r.text(0), r.text(1), r.text(2), r.integer(3), r.integer(4),
                  r.null(5) ? std::nullopt : std::optional<std::int64_t>(r.integer(5)), r.text(6),
                  r.text(7)});
    return {};
  }));
  return out;
}

}  // namespace restorekit::catalog
