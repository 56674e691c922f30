#include "pg_cluster.hpp"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <fmt/format.h>

namespace restorekit::test {

namespace fs = std::filesystem;

namespace {

std::string& reason() {
  static std::string why;
  return why;
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Runs a shell command; @return its exit status and output (stdout and stderr).
std::pair<int, std::string> run(const std::string& command) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return {-1, "popen failed"};
  std::array<char, 4096> buf{};
  while (auto n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// The newest server installed (/usr/lib/postgresql/<version>/bin).
std::string find_server_bin() {
  std::vector<fs::path> found;
  std::error_code ec;
  for (const auto& d : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    auto bin = d.path() / "bin";
    if (fs::exists(bin / "initdb", ec) && fs::exists(bin / "pg_ctl", ec)) found.push_back(bin);
  }
  if (found.empty()) return {};
  std::sort(found.begin(), found.end(), [](const fs::path& a, const fs::path& b) {
    return std::stoi(a.parent_path().filename().string()) <
           std::stoi(b.parent_path().filename().string());
  });
  return found.back().string();
}

std::unique_ptr<PgCluster>& instance() {
  static std::unique_ptr<PgCluster> cluster;
  return cluster;
}

}  // namespace

const std::string& PgCluster::why() {
  return reason();
}

PgCluster* PgCluster::get() {
  static bool tried = false;
  if (tried) return instance().get();
  tried = true;
  std::unique_ptr<PgCluster> c(new PgCluster());
  c->bin_ = find_server_bin();
  if (c->bin_.empty()) {
    reason() = "no /usr/lib/postgresql/<version>/bin/initdb";
    return nullptr;
  }
  std::string user;
  if (::geteuid() == 0) {
    for (const char* u : {"postgres", "nobody"}) {
      if (::getpwnam(u)) {
        user = u;
        break;
      }
    }
    if (user.empty()) {
      reason() = "running as root and neither a postgres nor a nobody user exists for initdb";
      return nullptr;
    }
    c->runas_ = "runuser -u " + user + " -- ";
  }
  std::string tmpl = (fs::temp_directory_path() / "restorekit-pg-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) {
    reason() = "cannot create a temporary folder";
    return nullptr;
  }
  c->dir_ = tmpl;
  if (!user.empty()) {
    const passwd* pw = ::getpwnam(user.c_str());
    if (::chown(c->dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      reason() = "cannot hand the cluster folder to " + user;
      return nullptr;
    }
  }
  auto [init_rc, init_out] =
      run(fmt::format("{}{}/initdb -D {}/data -A trust -U postgres -E UTF8 --locale=C --no-sync",
                      c->runas_, c->bin_, c->dir_));
  if (init_rc != 0) {
    reason() = "initdb failed: " + init_out;
    return nullptr;
  }
  auto [start_rc, start_out] = run(fmt::format(
      "{}{}/pg_ctl -D {}/data -l {}/log -w -t 60 -o {} start", c->runas_, c->bin_, c->dir_, c->dir_,
      quote(fmt::format("-c listen_addresses='' -k {} -p 5432 -c fsync=off -c "
                        "synchronous_commit=off -c full_page_writes=off -c max_connections=60",
                        c->dir_))));
  if (start_rc != 0) {
    std::ifstream log(c->dir_ + "/log");
    std::stringstream text;
    text << log.rdbuf();
    reason() = "pg_ctl start failed: " + start_out + text.str();
    return nullptr;
  }
  c->running_ = true;
  // A test process killed by a timeout or a signal never runs the destructor: a watcher of its
  // own stops the server and removes the folder once this process is gone.
  std::string watch = fmt::format(
      "while kill -0 {} 2>/dev/null; do sleep 1; done; {}{}/pg_ctl -D {}/data -m immediate -w "
      "stop; rm -rf {}",
      ::getpid(), c->runas_, c->bin_, c->dir_, c->dir_);
  if (std::system(
          fmt::format("setsid sh -c {} </dev/null >/dev/null 2>&1 &", quote(watch)).c_str()) != 0) {
    reason() = "cannot start the cluster's watcher";
    return nullptr;
  }
  instance() = std::move(c);
  return instance().get();
}

PgCluster::~PgCluster() {
  if (running_) {
    run(fmt::format("{}{}/pg_ctl -D {}/data -m immediate -w stop", runas_, bin_, dir_));
  }
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

std::string PgCluster::uri(const std::string& database) const {
  return fmt::format("postgresql:///{}?host={}&port=5432&user=postgres", database, dir_);
}

int PgCluster::psql(const std::string& sql, const std::string& on) const {
  return run(fmt::format("{}/psql -X -q -v ON_ERROR_STOP=1 {} -c {}", bin_,
                         quote(on.empty() ? uri("postgres") : on), quote(sql)))
      .first;
}

std::string PgCluster::query(const std::string& sql, const std::string& on) const {
  return run(fmt::format("{}/psql -X -q -A -t -F '|' -v ON_ERROR_STOP=1 {} -c {}", bin_, quote(on),
                         quote(sql)))
      .second;
}

std::string PgCluster::new_database() {
  std::string name = fmt::format("t{}_{}", ::getpid(), ++databases_);
  if (psql("CREATE DATABASE " + name) != 0) return uri("no_such_database_" + name);
  return uri(name);
}

}  // namespace restorekit::test
