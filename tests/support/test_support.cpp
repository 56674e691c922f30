#include "test_support.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <archive.h>
#include <archive_entry.h>

#include <restorekit/core/archive_reader.hpp>
#include <restorekit/core/fs.hpp>

extern char** environ;

namespace restorekit::test {

// Every test binary is an application: it sets the UTF-8 locale the library asks for.
[[maybe_unused]] const bool kUtf8Locale = (core::ensure_utf8_locale(), true);

ScratchDir::ScratchDir() {
  std::string pattern = (fs::temp_directory_path() / "rk-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) std::abort();
  path_ = pattern;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

Tmpfs::Tmpfs(const fs::path& where, const std::string& size) : where_(where) {
  fs::create_directories(where);
  mounted_ = ::mount("tmpfs", where.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0;
  if (!mounted_) error_ = std::strerror(errno);
}

Tmpfs::~Tmpfs() {
  if (mounted_) ::umount2(where_.c_str(), MNT_DETACH);
}

namespace {

std::string slurp_fd(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace

void sqlite3_shell(const fs::path& db, const std::string& sql) {
  auto r = run({"sqlite3", db.string(), sql});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

CommandResult run(const std::vector<std::string>& argv, const fs::path& cwd,
                  const std::vector<std::string>& env) {
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe(out_pipe) != 0 || ::pipe(err_pipe) != 0) std::abort();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  posix_spawn_file_actions_addclose(&actions, out_pipe[0]);
  posix_spawn_file_actions_addclose(&actions, err_pipe[0]);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) envs.emplace_back(*e);
  for (const auto& e : env) envs.push_back(e);
  std::vector<char*> cenv;
  for (auto& e : envs) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, cargs[0], &actions, nullptr, cargs.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  CommandResult result;
  if (rc != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    result.err = "spawn failed: " + argv[0];
    return result;
  }
  std::thread err_reader([&] { result.err = slurp_fd(err_pipe[0]); });
  result.out = slurp_fd(out_pipe[0]);
  err_reader.join();
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

int sh(const std::string& command, const fs::path& cwd) {
  std::string line = cwd.empty() ? command : "cd '" + cwd.string() + "' && " + command;
  auto r = run({"/bin/sh", "-c", line});
  if (r.exit_code != 0) {
    ADD_FAILURE() << "command failed (" << r.exit_code << "): " << line << "\n" << r.out << r.err;
  }
  return r.exit_code;
}

bool have_tool(const std::string& name) {
  return run({"/bin/sh", "-c", "command -v " + name}).exit_code == 0;
}

std::string restorekit_exe() {
  return RESTOREKIT_EXE;
}

std::optional<fs::path> corpus_dir() {
  const char* env = std::getenv("RESTOREKIT_CORPUS");
  fs::path p = env && *env ? fs::path(env) : fs::path(RESTOREKIT_CORPUS_DIR);
  std::error_code ec;
  if (fs::is_directory(p / "sqlite", ec)) return p;
  return std::nullopt;
}

void write_file(const fs::path& path, std::string_view content) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
}

std::vector<std::string> files_below(const fs::path& root) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::exists(root, ec)) return out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), root).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string noise(std::size_t n, std::uint64_t seed) {
  std::string out(n, '\0');
  for (auto& c : out) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    c = static_cast<char>(seed >> 56);
  }
  return out;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::map<std::string, bool> tar_members(const fs::path& tar) {
  auto r = run({"python3", "-c",
                "import sys, tarfile\n"
                "t = tarfile.open(sys.argv[1], encoding='utf-8', errors='surrogateescape')\n"
                "for m in t.getmembers():\n"
                "  print(m.name.encode('utf-8', 'surrogateescape').hex(),\n"
                "        int(m.pax_headers.get('hdrcharset') == 'BINARY'))\n",
                tar.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, bool> out;
  std::istringstream lines(r.out);
  std::string hex;
  int binary = 0;
  while (lines >> hex >> binary) {
    std::string name;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
      name.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    out[name] = binary != 0;
  }
  return out;
}

std::vector<std::byte> make_archive(core::ArchiveKind kind, const std::vector<MemoryEntry>& entries,
                                    std::optional<std::string> password) {
  std::vector<std::byte> out;
  core::WriterOptions o;
  o.kind = kind;
  o.password = std::move(password);
  auto writer = core::ArchiveWriter::open_memory(out, o);
  EXPECT_TRUE(writer) << writer.error().message;
  for (const auto& e : entries) {
    if (!e.path.empty() && e.path.back() == '/') {
      EXPECT_TRUE(writer->add_directory(e.path.substr(0, e.path.size() - 1), 1700000000));
      continue;
    }
    EXPECT_TRUE(writer->begin_file(e.path, e.data.size(), 1700000000));
    EXPECT_TRUE(writer->write(std::as_bytes(std::span(e.data.data(), e.data.size()))));
    EXPECT_TRUE(writer->end_file());
  }
  EXPECT_TRUE(writer->finish());
  return out;
}

std::vector<std::byte> raw_tar(const std::vector<RawEntry>& entries) {
  std::vector<std::byte> out(8 << 20);
  std::size_t used = 0;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_open_memory(a, out.data(), out.size(), &used);
  for (const auto& e : entries) {
    archive_entry* ae = archive_entry_new();
    archive_entry_set_pathname(ae, e.name.c_str());
    archive_entry_set_filetype(ae, e.type);
    archive_entry_set_perm(ae, 0644);
    archive_entry_set_size(ae, static_cast<la_int64_t>(e.data.size()));
    if (!e.link.empty()) archive_entry_set_symlink(ae, e.link.c_str());
    archive_write_header(a, ae);
    if (!e.data.empty()) archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(ae);
  }
  archive_write_close(a);
  archive_write_free(a);
  out.resize(used);
  return out;
}

void write_bytes(const fs::path& path, const std::vector<std::byte>& bytes) {
  write_file(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

std::vector<std::byte> rewrite_archive(
    const fs::path& source, core::ArchiveKind kind,
    const std::function<std::optional<std::string>(const std::string&, std::string)>& edit,
    const std::vector<MemoryEntry>& extra) {
  auto reader = core::ArchiveReader::open(source);
  EXPECT_TRUE(reader) << reader.error().message;
  std::vector<MemoryEntry> entries;
  for (;;) {
    auto e = reader->next();
    if (!e || !*e) break;
    if ((*e)->type == core::EntryType::kDirectory) {
      entries.push_back({(*e)->path + "/", ""});
      continue;
    }
    std::string data;
    for (;;) {
      auto b = reader->read_block();
      if (!b || b->empty()) break;
      data.append(reinterpret_cast<const char*>(b->data()), b->size());
    }
    if (auto kept = edit((*e)->path, std::move(data))) entries.push_back({(*e)->path, *kept});
  }
  auto last = entries.back();
  entries.pop_back();
  entries.insert(entries.end(), extra.begin(), extra.end());
  entries.push_back(last);
  return make_archive(kind, entries);
}

const sample::SampleResult& small_sample() {
  static std::once_flag once;
  static sample::SampleResult result;
  static fs::path dir;
  std::call_once(once, [] {
    dir = fs::temp_directory_path() / ("rk-sample-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    sample::SampleOptions o;
    o.out_dir = dir;
    o.rows = 3000;
    o.documents = 40;
    o.document_bytes = 4096;
    auto r = sample::generate_sample(o);
    if (!r) std::abort();
    result = *r;
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(dir, ec);
    });
  });
  return result;
}

}  // namespace restorekit::test
