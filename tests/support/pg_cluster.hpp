// A throwaway PostgreSQL cluster for the tests of the catalog's server backend: initdb and
// pg_ctl (Debian's postgresql package) in a private temporary folder, listening on a Unix
// socket there only (no TCP port), trust authentication, fsync off. initdb refuses to run as
// root, as CI does: then the server runs as the `postgres` user (or `nobody`) through runuser.
// One cluster per test binary, started on first use and stopped when the binary exits; each
// test takes a database of its own.
#pragma once

#include <memory>
#include <string>

namespace restorekit::test {

class PgCluster {
 public:
  // The cluster, started on first use; nullptr when it cannot run here (why() says why: the
  // server binaries are absent, or initdb / pg_ctl failed, with their output).
  static PgCluster* get();
  static const std::string& why();

  // A new, empty database; @return its URI (postgresql:///name?host=...&user=postgres).
  std::string new_database();
  // The URI of an existing database.
  [[nodiscard]] std::string uri(const std::string& database) const;
  // Runs `sql` through psql on the database `uri` names (default: postgres); @return its exit
  // status.
  int psql(const std::string& sql, const std::string& uri = {}) const;
  // The rows `sql` returns on the database `uri` names, one line each, columns split by '|'.
  [[nodiscard]] std::string query(const std::string& sql, const std::string& uri) const;

  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

 private:
  PgCluster() = default;
  std::string bin_;    // the server's bin folder
  std::string dir_;    // the cluster's folder: data/, the socket, the log
  std::string runas_;  // "runuser -u USER --" when root, else empty
  int databases_ = 0;
  bool running_ = false;
};

}  // namespace restorekit::test

// In a test: the cluster, or GTEST_SKIP with the reason (a loud skip, never a silent pass).
#define RK_REQUIRE_POSTGRES(var)                                                \
  auto* var = ::restorekit::test::PgCluster::get();                             \
  if (!var) {                                                                   \
    GTEST_SKIP() << "SKIPPED LOUDLY: no PostgreSQL server here: "               \
                 << ::restorekit::test::PgCluster::why()                        \
                 << " (scripts/setup-deps.sh installs the postgresql package)"; \
  }
