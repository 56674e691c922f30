#include <restorekit/core/content_hash.hpp>

#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace restorekit::core {

namespace {

// Values are buffered and hashed in large blocks: one hasher call per value costs more than
// the hashing.
class Feed {
 public:
  explicit Feed(Hasher& h) : h_(h), buf_(std::make_unique_for_overwrite<char[]>(kCapacity)) {}
  ~Feed() { flush(); }
  Feed(const Feed&) = delete;
  Feed& operator=(const Feed&) = delete;

  void tag(char t) {
    buf_[len_++] = t;
    maybe_flush();
  }
  void u64(std::uint64_t v) {
    std::memcpy(buf_.get() + len_, &v, 8);
    len_ += 8;
    maybe_flush();
  }
  void bytes(const void* p, std::size_t n) {
    u64(n);
    if (n > kFlush) {
      flush();
      h_.update(std::string_view(static_cast<const char*>(p), n));
      return;
    }
    if (n > 0) std::memcpy(buf_.get() + len_, p, n);
    len_ += n;
    maybe_flush();
  }
  void text(std::string_view s) { bytes(s.data(), s.size()); }
  void flush() {
    if (len_ > 0) h_.update(std::string_view(buf_.get(), len_));
    len_ = 0;
  }

 private:
  // Every call leaves fewer than kFlush bytes, and none adds more than 8 + kFlush.
  static constexpr std::size_t kFlush = 1 << 16;
  static constexpr std::size_t kCapacity = 2 * kFlush + 16;
  void maybe_flush() {
    if (len_ >= kFlush) flush();
  }
  Hasher& h_;
  std::unique_ptr<char[]> buf_;
  std::size_t len_ = 0;
};

Result<void> hash_rows(Database& db, const std::string& sql, Feed& feed,
                       const CancelToken& cancel) {
  RK_TRY_ASSIGN(auto st, db.prepare(sql));
  int n = st.column_count();
  std::uint64_t rows = 0;
  return st.for_each([&]() -> Result<void> {
    if ((++rows & 0xFFFF) == 0 && cancel.cancelled()) {
      return fail(ErrorCode::kCancelled, "content hash cancelled");
    }
    feed.tag('R');
    for (int i = 0; i < n; ++i) {
      Cell c = st.cell(i);
      switch (c.type) {
        case ValueType::kInteger:
          feed.tag('i');
          feed.u64(static_cast<std::uint64_t>(c.integer));
          break;
        case ValueType::kReal: {
          std::uint64_t bits = 0;
          std::memcpy(&bits, &c.real, 8);
          feed.tag('r');
          feed.u64(bits);
          break;
        }
        case ValueType::kText:
          feed.tag('t');
          feed.text(c.text());
          break;
        case ValueType::kBlob:
          feed.tag('b');
          feed.bytes(c.bytes.data(), c.bytes.size());
          break;
        case ValueType::kNull: feed.tag('n'); break;
      }
    }
    return {};
  });
}

}  // namespace

Result<Digest128> content_hash(Database& db, const CancelToken& cancel) {
  RK_TRY(db.exec("BEGIN"));
  Hasher hasher;
  auto body = [&]() -> Result<void> {
    Feed feed(hasher);
    RK_TRY_ASSIGN(auto user_version, db.query_int("PRAGMA user_version"));
    RK_TRY_ASSIGN(auto application_id, db.query_int("PRAGMA application_id"));
    feed.u64(static_cast<std::uint64_t>(user_version));
    feed.u64(static_cast<std::uint64_t>(application_id));
    struct Table {
      std::string name;
      bool without_rowid = false;
    };
    std::vector<Table> tables;
    RK_TRY_ASSIGN(auto schema, db.prepare("SELECT type, name, tbl_name, coalesce(sql, '') FROM "
                                          "sqlite_schema ORDER BY type, name"));
    RK_TRY(schema.for_each([&]() -> Result<void> {
      feed.tag('S');
      for (int i = 0; i < 4; ++i) feed.text(schema.column_text(i));
      std::string_view sql = schema.column_text(3);
      if (schema.column_text(0) == "table" &&
          sql.rfind("CREATE VIRTUAL", 0) == std::string_view::npos) {
        tables.push_back({std::string(schema.column_text(1)), false});
      }
      return {};
    }));
    // One pass over pragma_table_list: asking it per table rebuilds the whole list each time
    // (20,000 tables took minutes).
    std::set<std::string, std::less<>> without_rowid;
    RK_TRY_ASSIGN(auto list, db.prepare("SELECT name FROM pragma_table_list WHERE schema = 'main' "
                                        "AND wr"));
    RK_TRY(list.for_each([&]() -> Result<void> {
      without_rowid.emplace(list.column_text(0));
      return {};
    }));
    for (auto& t : tables) {
      if (cancel.cancelled()) return fail(ErrorCode::kCancelled, "content hash cancelled");
      t.without_rowid = without_rowid.count(t.name) > 0;
      feed.tag('T');
      feed.text(t.name);
      std::string q = quote_identifier(t.name);
      // NOT INDEXED: the table's own b-tree, so the order is its rowid or primary key.
      RK_TRY(hash_rows(db,
                       t.without_rowid ? fmt::format("SELECT * FROM {} NOT INDEXED", q)
                                       : fmt::format("SELECT _rowid_, * FROM {} NOT INDEXED", q),
                       feed, cancel));
    }
    return {};
  };
  auto done = body();
  (void)db.exec("COMMIT");
  RK_TRY(done);
  return hasher.digest();
}

}  // namespace restorekit::core
