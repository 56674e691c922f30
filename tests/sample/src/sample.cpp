#include <restorekit/sample/sample.hpp>

#include <algorithm>
#include <array>
#include <fstream>
#include <vector>

#include <fmt/format.h>

#include <restorekit/core/fs.hpp>
#include <restorekit/core/sqlite.hpp>

namespace restorekit::sample {

namespace fs = std::filesystem;
using core::Database;
using core::OpenMode;

namespace {

// splitmix64: tiny, fast, and identical on every platform (std:: distributions are not).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
  bool chance(unsigned percent) { return below(100) < percent; }
  template <typename T, std::size_t N>
  const T& pick(const std::array<T, N>& items) {
    return items[below(N)];
  }

 private:
  std::uint64_t state_;
};

constexpr std::array<const char*, 12> kFirst = {"Anna",  "Jürgen", "Zoë",    "Ólafur",
                                                "Chloé", "Mei",    "Sven",   "Łukasz",
                                                "Aiko",  "José",   "Fatima", "Ингрид"};
constexpr std::array<const char*, 12> kLast = {"Müller",  "Dvořák",    "Nakamura", "García",
                                               "Smith",   "Øster",     "Kowalski", "Rossi",
                                               "Schäfer", "Lindqvist", "O'Brien",  "Петрова"};
constexpr std::array<const char*, 8> kCompanyWords = {"Alpen",   "Nordlicht", "Zürich",   "Atelier",
                                                      "Kanzlei", "Praxis",    "Bäckerei", "Studio"};
constexpr std::array<const char*, 6> kCountries = {"DE", "AT", "CH", "FR", "JP", "US"};
constexpr std::array<const char*, 10> kSubjects = {
    "Erstgespräch", "Follow-up", "Vertragsprüfung", "Steuertermin", "Kontrolle",
    "Beratung",     "Übergabe",  "Review",          "会議",         "Check-in"};
constexpr std::array<const char*, 20> kTags = {
    "vip",   "new",        "lead",  "partner",  "supplier", "überfällig", "b2b",
    "b2c",   "newsletter", "event", "ausland",  "premium",  "trial",      "churn-risk",
    "loyal", "referral",   "press", "investor", "support",  "重要"};
constexpr std::array<const char*, 6> kDocNames = {
    "Angebot_Müller", "Rechnung", "Vertrag_Žluťoučký", "報告", "Protokoll", "Lebenslauf_José"};
constexpr std::string_view kLorem =
    "Sehr geehrte Damen und Herren, anbei erhalten Sie die Unterlagen zu unserem Gespräch. "
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor. Größe, "
    "Maße und Gewicht wie besprochen. 日本語のテキストも含まれています. ";

constexpr std::string_view kSchema = R"sql(
CREATE TABLE companies(id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT,
  created_at TEXT NOT NULL);
CREATE TABLE persons(id INTEGER PRIMARY KEY, company_id INTEGER NOT NULL REFERENCES companies(id),
  first_name TEXT, last_name TEXT NOT NULL, email TEXT, phone TEXT, birthday TEXT, photo BLOB,
  notes TEXT);
CREATE TABLE appointments(id INTEGER PRIMARY KEY,
  company_id INTEGER NOT NULL REFERENCES companies(id), person_id INTEGER REFERENCES persons(id),
  starts_at TEXT NOT NULL, minutes INTEGER, subject TEXT, price REAL,
  cancelled INTEGER NOT NULL DEFAULT 0);
CREATE TABLE documents(id INTEGER PRIMARY KEY, company_id INTEGER NOT NULL REFERENCES companies(id),
  person_id INTEGER REFERENCES persons(id), path TEXT NOT NULL UNIQUE, title TEXT, bytes INTEGER,
  created_at TEXT);
CREATE TABLE person_tags(company_id INTEGER NOT NULL REFERENCES companies(id),
  person_id INTEGER NOT NULL REFERENCES persons(id), tag TEXT NOT NULL,
  PRIMARY KEY(person_id, tag));
CREATE TABLE settings(company_id INTEGER NOT NULL REFERENCES companies(id), key TEXT NOT NULL,
  value TEXT, PRIMARY KEY(company_id, key)) WITHOUT ROWID;
CREATE TABLE audit_log(company_id INTEGER, at TEXT, actor TEXT, action TEXT, detail TEXT);
CREATE INDEX persons_by_company ON persons(company_id);
CREATE INDEX appointments_by_company ON appointments(company_id, starts_at);
PRAGMA user_version = 7;
)sql";

std::string timestamp(Rng& rng, int year_from) {
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:00Z",
                     year_from + static_cast<int>(rng.below(3)), 1 + rng.below(12),
                     1 + rng.below(28), 7 + rng.below(12), rng.below(4) * 15);
}

std::string slug(std::string_view name, std::uint64_t id) {
  std::string out;
  for (unsigned char c : name) {
    if (std::isalnum(c))
      out += static_cast<char>(std::tolower(c));
    else if (c == ' ' && !out.empty() && out.back() != '-')
      out += '-';
    else if (c >= 0x80)
      out += static_cast<char>(c);  // keep UTF-8 letters: non-ASCII folders
  }
  return fmt::format("{}-{}", out, id);
}

struct Counts {
  std::uint64_t companies, persons, appointments, tags, audit;
};

Counts plan_counts(std::uint64_t rows, std::uint64_t documents) {
  std::uint64_t companies = std::clamp<std::uint64_t>(rows / 2000, 3, 500);
  std::uint64_t rest = rows > companies * 6 + documents ? rows - companies * 6 - documents : 600;
  std::uint64_t persons = std::max<std::uint64_t>(rest / 5, 10);
  return Counts{companies, persons, rest * 45 / 100, std::min(rest / 10, persons * 10),
                rest - persons - rest * 45 / 100 - std::min(rest / 10, persons * 10)};
}

class Writer {
 public:
  Writer(Database& db, Rng& rng) : db_(db), rng_(rng) {}

  Result<void> companies(std::uint64_t n, std::vector<std::string>& names) {
    RK_TRY_ASSIGN(auto st, db_.prepare("INSERT INTO companies VALUES(?1,?2,?3,?4)"));
    for (std::uint64_t id = 1; id <= n; ++id) {
      std::string name = fmt::format("{} {} {}", rng_.pick(kCompanyWords), rng_.pick(kLast),
                                     id % 3 == 0 ? "GmbH" : "AG");
      st.bind(1, static_cast<std::int64_t>(id));
      st.bind(2, std::string_view(name));
      st.bind(3, std::string_view(rng_.pick(kCountries)));
      st.bind(4, std::string_view(timestamp(rng_, 2015)));
      RK_TRY(st.run());
      names.push_back(name);
    }
    return settings(n);
  }

  Result<void> settings(std::uint64_t companies) {
    RK_TRY_ASSIGN(auto st, db_.prepare("INSERT INTO settings VALUES(?1,?2,?3)"));
    constexpr std::array<const char*, 5> kKeys = {"currency", "locale", "invoice.prefix",
                                                  "reminder.days", "logo"};
    for (std::uint64_t c = 1; c <= companies; ++c) {
      for (const char* key : kKeys) {
        st.bind(1, static_cast<std::int64_t>(c));
        st.bind(2, std::string_view(key));
        if (rng_.chance(10))
          st.bind_null(3);
        else
          st.bind(3, std::string_view(fmt::format("{}-{}", key, rng_.below(100))));
        RK_TRY(st.run());
      }
    }
    return {};
  }

  Result<void> persons(std::uint64_t first_id, std::uint64_t n, std::uint64_t companies) {
    RK_TRY_ASSIGN(auto st, db_.prepare("INSERT INTO persons(id, company_id, first_name, "
                                       "last_name, email, phone, birthday, photo, notes) "
                                       "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)"));
    std::array<std::byte, 96> photo{};
    for (std::uint64_t id = first_id; id < first_id + n; ++id) {
      st.bind(1, static_cast<std::int64_t>(id));
      st.bind(2, static_cast<std::int64_t>(1 + rng_.below(companies)));
      st.bind(3, std::string_view(rng_.pick(kFirst)));
      st.bind(4, std::string_view(rng_.pick(kLast)));
      st.bind(5, std::string_view(fmt::format("p{}@example.com", id)));
      if (rng_.chance(30))
        st.bind_null(6);
      else
        st.bind(6, std::string_view(
                       fmt::format("+49 {} {}", 100 + rng_.below(900), rng_.below(1000000))));
      if (rng_.chance(20))
        st.bind_null(7);
      else
        st.bind(7, std::string_view(fmt::format("19{:02}-{:02}-{:02}", 40 + rng_.below(60),
                                                1 + rng_.below(12), 1 + rng_.below(28))));
      if (rng_.chance(25)) {
        for (auto& b : photo) b = static_cast<std::byte>(rng_.next());
        st.bind_blob(8, photo);
      } else {
        st.bind_null(8);
      }
      if (rng_.chance(60))
        st.bind_null(9);
      else
        st.bind(9, kLorem.substr(0, 40 + rng_.below(80)));
      RK_TRY(st.run());
    }
    return {};
  }

  Result<void> appointments(std::uint64_t first_id, std::uint64_t n, std::uint64_t companies,
                            std::uint64_t persons) {
    RK_TRY_ASSIGN(auto st, db_.prepare("INSERT INTO appointments VALUES(?1,?2,?3,?4,?5,?6,?7,?8)"));
    for (std::uint64_t id = first_id; id < first_id + n; ++id) {
      st.bind(1, static_cast<std::int64_t>(id));
      st.bind(2, static_cast<std::int64_t>(1 + rng_.below(companies)));
      if (rng_.chance(5))
        st.bind_null(3);
      else
        st.bind(3, static_cast<std::int64_t>(1 + rng_.below(persons)));
      st.bind(4, std::string_view(timestamp(rng_, 2023)));
      st.bind(5, static_cast<std::int64_t>(15 * (1 + rng_.below(8))));
      st.bind(6, std::string_view(rng_.pick(kSubjects)));
      if (rng_.chance(10))
        st.bind_null(7);
      else
        st.bind(7, static_cast<double>(rng_.below(100000)) / 100.0);
      st.bind(8, static_cast<std::int64_t>(rng_.chance(8)));
      RK_TRY(st.run());
    }
    return {};
  }

  Result<void> tags(std::uint64_t n, std::uint64_t persons) {
    RK_TRY_ASSIGN(auto st, db_.prepare("INSERT OR IGNORE INTO person_tags "
                                       "SELECT company_id, id, ?2 FROM persons WHERE id = ?1"));
    for (std::uint64_t i = 0; i < n; ++i) {
      st.bind(1, static_cast<std::int64_t>(1 + rng_.below(persons)));
      st.bind(2, std::string_view(rng_.pick(kTags)));
      RK_TRY(st.run());
    }
    return {};
  }

  Result<void> audit(std::uint64_t n, std::uint64_t companies) {
    RK_TRY_ASSIGN(auto st, db_.prepare("INSERT INTO audit_log VALUES(?1,?2,?3,?4,?5)"));
    constexpr std::array<const char*, 4> kActions = {"login", "update", "export", "delete"};
    for (std::uint64_t i = 0; i < n; ++i) {
      st.bind(1, static_cast<std::int64_t>(1 + rng_.below(companies)));
      st.bind(2, std::string_view(timestamp(rng_, 2024)));
      st.bind(3, std::string_view(rng_.pick(kFirst)));
      st.bind(4, std::string_view(rng_.pick(kActions)));
      if (rng_.chance(50))
        st.bind_null(5);
      else
        st.bind(5, std::string_view(fmt::format("record {}", rng_.below(1000000))));
      RK_TRY(st.run());
    }
    return {};
  }

  Result<void> document_row(std::uint64_t id, std::uint64_t company, std::uint64_t person,
                            const std::string& path, std::uint64_t bytes) {
    if (!doc_stmt_) {
      RK_TRY_ASSIGN(auto st, db_.prepare("INSERT INTO documents VALUES(?1,?2,?3,?4,?5,?6,?7)"));
      doc_stmt_.emplace(std::move(st));
    }
    auto& st = *doc_stmt_;
    st.bind(1, static_cast<std::int64_t>(id));
    st.bind(2, static_cast<std::int64_t>(company));
    st.bind(3, static_cast<std::int64_t>(person));
    st.bind(4, std::string_view(path));
    st.bind(5, std::string_view(fs::path(path).stem().string()));
    st.bind(6, static_cast<std::int64_t>(bytes));
    st.bind(7, std::string_view(timestamp(rng_, 2022)));
    return st.run();
  }

 private:
  Database& db_;
  Rng& rng_;
  std::optional<core::Statement> doc_stmt_;
};

Result<void> write_file(const fs::path& path, std::string_view content) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out)
    return fail(ErrorCode::kIo, fmt::format("cannot write {}", path.string()), path.string());
  return {};
}

std::string document_content(Rng& rng, bool text, std::uint64_t size) {
  std::string out;
  out.reserve(size);
  if (text) {
    while (out.size() < size) {
      out += fmt::format("Zeile {}: ", rng.below(100000));
      out += kLorem.substr(0, 30 + rng.below(kLorem.size() - 30));
      out += '\n';
    }
    out.resize(size);
  } else {
    while (out.size() < size) {
      std::uint64_t v = rng.next();
      out.append(reinterpret_cast<const char*>(&v), std::min<std::size_t>(8, size - out.size()));
    }
  }
  return out;
}

struct DocPlan {
  std::string path;  // relative to the documents root
  std::uint64_t company, person, bytes;
  bool text;
};

DocPlan plan_document(Rng& rng, std::uint64_t id, const std::vector<std::string>& companies,
                      std::uint64_t persons, std::uint64_t avg_bytes) {
  std::uint64_t company = 1 + rng.below(companies.size());
  std::uint64_t person = 1 + rng.below(persons);
  bool text = rng.chance(60);
  std::string dir = slug(companies[company - 1], company);
  if (rng.chance(20))
    dir += fmt::format("/archiv/{}", 2019 + rng.below(5));
  else
    dir += fmt::format("/{}", person);
  std::string name = fmt::format("{}_{}.{}", rng.pick(kDocNames), id, text ? "txt" : "pdf");
  std::uint64_t bytes = avg_bytes / 2 + rng.below(avg_bytes + 1);
  return DocPlan{dir + "/" + name, company, person, bytes, text};
}

Result<void> live_mutations(Database& db, Rng& rng, const Counts& c) {
  std::uint64_t extra = std::max<std::uint64_t>(c.appointments / 50, 5);
  RK_TRY(db.exec("BEGIN"));
  Writer w(db, rng);
  RK_TRY(w.persons(c.persons + 1, std::max<std::uint64_t>(c.persons / 50, 3), c.companies));
  RK_TRY(w.appointments(c.appointments + 1, extra, c.companies, c.persons));
  RK_TRY(w.audit(std::max<std::uint64_t>(c.audit / 50, 5), c.companies));
  RK_TRY(db.exec(fmt::format("DELETE FROM appointments WHERE id % 97 = {}", rng.below(97))));
  RK_TRY(db.exec(fmt::format("DELETE FROM person_tags WHERE person_id % 89 = {}", rng.below(89))));
  RK_TRY(
      db.exec(fmt::format("UPDATE appointments SET subject = 'Verschoben', price = price * 1.1 "
                          "WHERE id % 53 = {}",
                          rng.below(53))));
  RK_TRY(db.exec("UPDATE persons SET email = 'neu.' || email WHERE id % 61 = 7"));
  RK_TRY(db.exec("UPDATE settings SET value = 'EUR' WHERE key = 'currency'"));
  RK_TRY(db.exec("INSERT INTO settings VALUES(1, 'theme', 'dark')"));
  RK_TRY(db.exec("DELETE FROM audit_log WHERE rowid % 101 = 3"));
  RK_TRY(db.exec("ALTER TABLE persons ADD COLUMN mobile TEXT"));
  RK_TRY(db.exec("UPDATE persons SET mobile = '+49 170 ' || id WHERE id % 13 = 0"));
  RK_TRY(db.exec("PRAGMA user_version = 8"));
  return db.exec("COMMIT");
}

Result<void> copy_tree(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::copy(from, to, fs::copy_options::recursive, ec);
  if (ec)
    return fail(ErrorCode::kIo, fmt::format("cannot copy {}: {}", from.string(), ec.message()));
  return {};
}

Result<void> live_documents(Database& db, Rng& rng, const fs::path& docs,
                            const std::vector<DocPlan>& plans, std::uint64_t avg_bytes,
                            const std::vector<std::string>& companies, std::uint64_t persons) {
  std::error_code ec;
  RK_TRY(db.exec("BEGIN"));
  for (std::size_t i = 0; i < plans.size(); ++i) {
    const auto& p = plans[i];
    if (i % 17 == 3) {  // removed since the backup
      fs::remove(docs / fs::u8path(p.path), ec);
      RK_TRY(db.exec(fmt::format("DELETE FROM documents WHERE id = {}", i + 1)));
    } else if (i % 13 == 5) {  // edited since the backup
      RK_TRY(write_file(docs / fs::u8path(p.path), document_content(rng, true, p.bytes + 10)));
      RK_TRY(db.exec(
          fmt::format("UPDATE documents SET bytes = {} WHERE id = {}", p.bytes + 10, i + 1)));
    }
  }
  Writer w(db, rng);
  std::uint64_t added = std::max<std::size_t>(plans.size() / 20, 2);
  for (std::uint64_t k = 0; k < added; ++k) {
    std::uint64_t id = plans.size() + 1 + k;
    auto p = plan_document(rng, id, companies, persons, avg_bytes);
    RK_TRY(write_file(docs / fs::u8path(p.path), document_content(rng, p.text, p.bytes)));
    RK_TRY(w.document_row(id, p.company, p.person, p.path, p.bytes));
  }
  return db.exec("COMMIT");
}

constexpr std::string_view kProfile = R"toml(# restorekit profile of the sample CRM application
[database]
entry = "db/*.sqlite"
tenant_column = "company_id"
tenant_table = "companies"
tenant_key = "id"
tenant_label = "name"

[documents]
root = "docs/"
references = ["documents.path"]
)toml";

}  // namespace

Result<SampleResult> generate_sample(const SampleOptions& o) {
  if (o.rows < 1000 || o.rows > 5'000'000) {
    return fail(ErrorCode::kInvalidArgument, "sample rows must be between 1,000 and 5,000,000");
  }
  SampleResult r;
  r.database = o.out_dir / "app.sqlite";
  r.documents = o.out_dir / "docs";
  r.profile = o.out_dir / "profile.toml";
  std::error_code ec;
  if (fs::exists(r.database, ec) || fs::exists(r.documents, ec)) {
    return fail(ErrorCode::kInvalidArgument,
                fmt::format("{} already holds a sample; remove it first", o.out_dir.string()));
  }
  fs::create_directories(r.documents, ec);
  Rng rng(o.seed);
  Counts c = plan_counts(o.rows, o.documents);
  std::vector<std::string> companies;
  std::vector<DocPlan> plans;
  {
    RK_TRY_ASSIGN(auto db, Database::open(r.database, OpenMode::kCreate));
    RK_TRY(db.exec("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"));
    RK_TRY(db.exec(kSchema));
    RK_TRY(db.exec("BEGIN"));
    Writer w(db, rng);
    RK_TRY(w.companies(c.companies, companies));
    RK_TRY(w.persons(1, c.persons, c.companies));
    RK_TRY(w.appointments(1, c.appointments, c.companies, c.persons));
    RK_TRY(w.tags(c.tags, c.persons));
    RK_TRY(w.audit(c.audit, c.companies));
    for (std::uint64_t id = 1; id <= o.documents; ++id) {
      auto p = plan_document(rng, id, companies, c.persons, o.document_bytes);
      RK_TRY(write_file(r.documents / fs::u8path(p.path), document_content(rng, p.text, p.bytes)));
      RK_TRY(w.document_row(id, p.company, p.person, p.path, p.bytes));
      r.document_bytes += p.bytes;
      plans.push_back(std::move(p));
    }
    RK_TRY(db.exec("COMMIT"));
    RK_TRY_ASSIGN(auto total, db.query_int("SELECT (SELECT count(*) FROM companies) + (SELECT "
                                           "count(*) FROM persons) + (SELECT count(*) FROM "
                                           "appointments) + (SELECT count(*) FROM documents) + "
                                           "(SELECT count(*) FROM person_tags) + (SELECT count(*) "
                                           "FROM settings) + (SELECT count(*) FROM audit_log)"));
    r.rows = static_cast<std::uint64_t>(total);
    RK_TRY(db.exec("PRAGMA journal_mode=DELETE"));
  }
  r.document_files = o.documents;
  RK_TRY(write_file(r.profile, kProfile));
  if (!o.live) return r;

  r.live_database = o.out_dir / "live" / "app.sqlite";
  r.live_documents = o.out_dir / "live" / "docs";
  fs::create_directories(r.live_database.parent_path(), ec);
  RK_TRY(core::snapshot_database(r.database, r.live_database));
  RK_TRY(copy_tree(r.documents, r.live_documents));
  RK_TRY_ASSIGN(auto live, Database::open(r.live_database, OpenMode::kReadWrite));
  RK_TRY(live_mutations(live, rng, c));
  RK_TRY(
      live_documents(live, rng, r.live_documents, plans, o.document_bytes, companies, c.persons));
  return r;
}

}  // namespace restorekit::sample
