// Zip's central directory against its local headers, on zips made by Info-ZIP and Python
// (deflated, stored, data descriptors, zip64, a self-extracting stub) and damaged copies of
// them. unzip -t and 7z t are the yardstick: every damage found here, one of them finds too.
#include <restorekit/core/zip_directory.hpp>

#include <cstring>
#include <tuple>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace restorekit::core {
namespace {

using test::ScratchDir;
namespace fs = std::filesystem;

std::string describe(const ZipDirectoryReport& r) {
  std::string out;
  for (const auto& f : r.findings) out += f.message + "\n";
  return out;
}

ZipDirectoryReport check(const fs::path& zip) {
  auto r = check_zip_directory(zip);
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : ZipDirectoryReport{};
}

std::uint32_t get32(const std::string& s, std::size_t at) {
  std::uint32_t v = 0;
  std::memcpy(&v, s.data() + at, 4);
  return v;
}
void put32(std::string& s, std::size_t at, std::uint32_t v) {
  std::memcpy(s.data() + at, &v, 4);
}

class ZipDirectory : public ::testing::Test {
 protected:
  void SetUp() override {
    test::write_file(dir_ / "in/a.txt", std::string(5000, 'a'));
    test::write_file(dir_ / "in/b.txt", "bee");
    test::write_file(dir_ / "in/sub/c.bin", std::string(70000, 'c'));
  }
  // A damaged copy of `zip` made by `edit`.
  fs::path damaged(const fs::path& zip, const std::string& name,
                   const std::function<void(std::string&)>& edit) {
    auto bytes = test::read_file(zip);
    edit(bytes);
    test::write_file(dir_ / name, bytes);
    return dir_ / name;
  }
  // unzip -t and 7z t, the peers: true when either fails the zip.
  bool peers_fail(const fs::path& zip) {
    return test::run({"unzip", "-tqq", zip.string()}).exit_code != 0 ||
           test::run({"7z", "t", zip.string()}).exit_code != 0;
  }
  ScratchDir dir_;
};

TEST_F(ZipDirectory, ZipsFromStockToolsAgreeWithTheirDirectory) {
  RK_REQUIRE_TOOL("zip");
  RK_REQUIRE_TOOL("python3");
  RK_REQUIRE_TOOL("unzip");
  ASSERT_EQ(
      test::sh("zip -qr deflated.zip in && zip -qr0 stored.zip in && "
               "zip -qr -fz zip64.zip in && "
               "cat in/a.txt | zip -q streamed.zip - && "
               "printf 'MZ stub of a self-extractor' > sfx.zip && cat deflated.zip >> sfx.zip",
               dir_.path()),
      0);
  ASSERT_EQ(test::sh("python3 -c \"import zipfile\n"
                     "z=zipfile.ZipFile('py.zip','w',zipfile.ZIP_DEFLATED)\n"
                     "z.write('in/a.txt'); z.writestr('x/empty/', '')\n"
                     "with z.open('big.txt','w',force_zip64=True) as f: f.write(b'z'*1000)\n"
                     "z.close()\"",
                     dir_.path()),
            0);
  for (std::string name :
       {"deflated.zip", "stored.zip", "zip64.zip", "streamed.zip", "sfx.zip", "py.zip"}) {
    SCOPED_TRACE(name);
    auto r = check(dir_ / name);
    EXPECT_TRUE(r.findings.empty()) << describe(r);
    EXPECT_GT(r.entries, 0u);
  }
  EXPECT_GT(check(dir_ / "sfx.zip").prefix, 0u);
}

TEST_F(ZipDirectory, DamageToTheDirectoryIsFoundWhereUnzipFindsIt) {
  RK_REQUIRE_TOOL("zip");
  RK_REQUIRE_TOOL("unzip");
  RK_REQUIRE_TOOL("7z");
  ASSERT_EQ(test::sh("zip -qr good.zip in", dir_.path()), 0);
  auto good = test::read_file(dir_ / "good.zip");
  std::size_t end = good.rfind("PK\x05\x06");
  std::size_t cd = get32(good, end + 16);
  ASSERT_EQ(good.substr(cd, 4), std::string("PK\x01\x02", 4));
  struct Case {
    std::string name;
    std::function<void(std::string&)> edit;
    std::string expect;  // a phrase of the finding
  };
  std::vector<Case> cases = {
      {"eocd-past-end.zip", [&](std::string& b) { put32(b, end + 16, 0x7ffffff0); },
       "past where the directory can be"},
      {"no-eocd.zip", [&](std::string& b) { b.resize(end); }, "no end of central directory"},
      {"cd-name.zip", [&](std::string& b) { b[cd + 46] = static_cast<char>(b[cd + 46] ^ 0x20); },
       "in its local header"},
      {"cd-crc.zip", [&](std::string& b) { put32(b, cd + 16, get32(b, cd + 16) ^ 1); }, "CRC-32"},
      {"cd-offset.zip", [&](std::string& b) { put32(b, cd + 42, 7); }, "no local header"},
      {"cd-count.zip", [&](std::string& b) { b[end + 10] = static_cast<char>(b[end + 10] + 1); },
       "counts"},
      {"local-name.zip", [&](std::string& b) { b[30] = static_cast<char>(b[30] ^ 0x20); },
       "in its local header"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto zip = damaged(dir_ / "good.zip", c.name, c.edit);
    auto r = check(zip);
    ASSERT_FALSE(r.findings.empty()) << "peers fail it: " << peers_fail(zip);
    EXPECT_EQ(r.findings.front().code, "CENTRAL_DIRECTORY");
    EXPECT_NE(describe(r).find(c.expect), std::string::npos) << describe(r);
    EXPECT_TRUE(peers_fail(zip)) << "unzip -t and 7z t both pass what restorekit fails";
  }
}

TEST_F(ZipDirectory, ALocalEntryTheDirectoryDoesNotListIsFound) {
  RK_REQUIRE_TOOL("python3");
  // The first directory record is dropped; the end record is adjusted to match.
  ASSERT_EQ(
      test::sh("python3 -c \"import zipfile,struct\n"
               "z=zipfile.ZipFile('two.zip','w'); z.writestr('hidden.txt','secret');"
               " z.writestr('shown.txt','hello'); z.close()\n"
               "b=bytearray(open('two.zip','rb').read()); e=b.rfind(b'PK\\\\x05\\\\x06')\n"
               "cd=struct.unpack_from('<I',b,e+16)[0]; n=struct.unpack_from('<H',b,cd+28)[0]\n"
               "first=46+n; del b[cd:cd+first]; e-=first\n"
               "struct.pack_into('<HHI',b,e+8,1,1,struct.unpack_from('<I',b,e+12)[0]-first)\n"
               "open('hidden.zip','wb').write(b)\"",
               dir_.path()),
      0);
  auto r = check(dir_ / "hidden.zip");
  ASSERT_EQ(r.findings.size(), 1u) << describe(r);
  EXPECT_NE(r.findings.front().message.find("hidden.txt"), std::string::npos) << describe(r);
  EXPECT_NE(r.findings.front().message.find("missing from the central directory"),
            std::string::npos);
  EXPECT_EQ(r.entries, 1u);
}

TEST_F(ZipDirectory, HostileBytesNeverCrashAndNeverReadOutOfBounds) {
  std::string bytes = "PK\x05\x06" + std::string(18, '\xff');
  for (std::size_t n = 0; n <= bytes.size(); ++n) {
    std::string cut = bytes.substr(0, n);
    ReadAt read = [&](std::uint64_t offset, std::span<std::byte> out) -> Result<std::size_t> {
      if (offset >= cut.size()) return std::size_t{0};
      std::size_t k = std::min(out.size(), cut.size() - static_cast<std::size_t>(offset));
      std::memcpy(out.data(), cut.data() + offset, k);
      return k;
    };
    auto r = check_zip_directory(read, cut.size(), "hostile.zip");
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->findings.empty());
  }
}

// Reads of a zip held in memory, counted.
struct CountedReads {
  explicit CountedReads(const std::string& b) : bytes(b) {}
  ReadAt read_at() {
    return [this](std::uint64_t offset, std::span<std::byte> out) -> Result<std::size_t> {
      ++reads;
      if (offset >= bytes.size()) return std::size_t{0};
      std::size_t k = std::min(out.size(), bytes.size() - static_cast<std::size_t>(offset));
      std::memcpy(out.data(), bytes.data() + offset, k);
      read_bytes += k;
      return k;
    };
  }
  const std::string& bytes;
  std::size_t reads = 0;
  std::uint64_t read_bytes = 0;
};

class ZipOfManySmallEntries : public ZipDirectory {
 protected:
  static constexpr std::size_t kFiles = 3000;
  static constexpr std::size_t kEntries = kFiles + 31;  // the files and their 31 folders
  void SetUp() override {
    ZipDirectory::SetUp();
    for (std::size_t i = 0; i < kFiles; ++i) {
      test::write_file(dir_ / fmt::format("many/f{:02}/note-{:04}.txt", i % 30, i),
                       fmt::format("note {} ", i) + std::string(i % 97, 'n'));
    }
  }
  std::tuple<ZipDirectoryReport, std::size_t, std::uint64_t> check_counted(
      const std::string& bytes) {
    CountedReads counted(bytes);
    auto r = check_zip_directory(counted.read_at(), bytes.size(), "many.zip");
    EXPECT_TRUE(r);
    return {r ? *r : ZipDirectoryReport{}, counted.reads, counted.read_bytes};
  }
};

// A zip of many small entries (Info-ZIP) is checked with a read per 64 KiB of its directory
// and of its local headers, not a read or two per header in each of the three walks, and no
// byte is read much more than once; damage to a late local header is still found.
TEST_F(ZipOfManySmallEntries, AreCheckedInFewReads) {
  RK_REQUIRE_TOOL("zip");
  ASSERT_EQ(test::sh("zip -qr many.zip many", dir_.path()), 0);
  auto bytes = test::read_file(dir_ / "many.zip");
  auto [report, reads, read_bytes] = check_counted(bytes);
  EXPECT_TRUE(report.findings.empty()) << describe(report);
  EXPECT_EQ(report.entries, kEntries);
  // Three walks forward (the directory, the local headers in its order, the local headers in
  // the file's), each a read per 64 KiB piece.
  EXPECT_LT(reads, 3 * (bytes.size() >> 16) + 20) << "reads";
  EXPECT_LT(read_bytes, 3 * bytes.size() + (std::uint64_t{3} << 20)) << "bytes read";
  // The last local header's name, changed: its walk still reads it.
  auto in_directory = bytes.rfind("PK\x01\x02");
  ASSERT_NE(in_directory, std::string::npos);
  auto last_local = bytes.rfind("PK\x03\x04", in_directory);
  ASSERT_NE(last_local, std::string::npos);
  bytes[last_local + 30] = 'X';
  auto [damaged, r2, b2] = check_counted(bytes);
  EXPECT_FALSE(damaged.findings.empty()) << "a renamed local header";
}

// A directory that lists the entries in another order than the file holds them (Python's
// zipfile, its list shuffled before it writes the directory) is no damage, and its local
// headers, read in the directory's order, cost a small read each: not a 64 KiB piece each.
TEST_F(ZipOfManySmallEntries, InAnotherOrderThanTheDirectorysAreReadAFewKiBAtATime) {
  RK_REQUIRE_TOOL("python3");
  ASSERT_EQ(test::sh("python3 -c \"import zipfile, os, random\n"
                     "z = zipfile.ZipFile('shuffled.zip', 'w', zipfile.ZIP_DEFLATED)\n"
                     "for root, _, files in sorted(os.walk('many')):\n"
                     "  for f in sorted(files): z.write(os.path.join(root, f))\n"
                     "random.Random(7).shuffle(z.filelist)\n"
                     "z.close()\"",
                     dir_.path()),
            0);
  auto bytes = test::read_file(dir_ / "shuffled.zip");
  ASSERT_EQ(test::run({"unzip", "-tqq", (dir_ / "shuffled.zip").string()}).exit_code, 0);
  auto [report, reads, read_bytes] = check_counted(bytes);
  EXPECT_TRUE(report.findings.empty()) << describe(report);
  EXPECT_EQ(report.entries, kFiles);  // zipfile lists no folders
  EXPECT_GT(reads, kFiles / 2) << "the local headers in the directory's order: out of step";
  EXPECT_LT(reads, kFiles + 3 * (bytes.size() >> 16) + 20) << "reads";
  EXPECT_LT(read_bytes, 3 * bytes.size() + kFiles * (std::uint64_t{4} << 10)) << "bytes read";
}

// The cursor's records, their local headers and their data, read through it in the
// directory's order: a read per 64 KiB piece where that is the file's order, a read or so per
// entry where it is not, and the bytes are the file's either way.
TEST_F(ZipOfManySmallEntries, AreReadThroughTheCursorAPieceAtATime) {
  RK_REQUIRE_TOOL("zip");
  RK_REQUIRE_TOOL("python3");
  ASSERT_EQ(test::sh("zip -qr many.zip many", dir_.path()), 0);
  ASSERT_EQ(test::sh("python3 -c \"import zipfile, random\n"
                     "src = zipfile.ZipFile('many.zip')\n"
                     "z = zipfile.ZipFile('shuffled.zip', 'w', zipfile.ZIP_DEFLATED)\n"
                     "for i in src.infolist(): z.writestr(i, src.read(i))\n"
                     "random.Random(3).shuffle(z.filelist)\n"
                     "z.close()\"",
                     dir_.path()),
            0);
  for (const char* name : {"many.zip", "shuffled.zip"}) {
    SCOPED_TRACE(name);
    auto bytes = test::read_file(dir_ / name);
    CountedReads counted(bytes);
    auto opened = ZipDirectoryCursor::open(counted.read_at(), bytes.size());
    ASSERT_TRUE(opened && *opened);
    ZipDirectoryCursor& cursor = **opened;
    std::size_t records = 0;
    for (;;) {
      auto record = cursor.next();
      ASSERT_TRUE(record);
      if (!*record) break;
      ++records;
      auto data = cursor.data_offset(**record);
      ASSERT_TRUE(data && *data) << (*record)->name;
      ASSERT_LE(**data + (*record)->compressed, bytes.size());
      std::string got((*record)->compressed, '\0');
      auto n = cursor.read(**data, std::as_writable_bytes(std::span(got)));
      ASSERT_TRUE(n);
      ASSERT_EQ(*n, got.size());
      EXPECT_EQ(got, bytes.substr(**data, got.size())) << (*record)->name;
    }
    EXPECT_EQ(records, kEntries);
    if (std::string_view(name) == "many.zip") {
      EXPECT_LT(counted.reads, 2 * (bytes.size() >> 16) + 20) << "reads";
    } else {
      EXPECT_LT(counted.reads, 2 * kEntries + (bytes.size() >> 16) + 20) << "reads";
      EXPECT_LT(counted.read_bytes, bytes.size() + 2 * kEntries * (std::uint64_t{4} << 10));
    }
  }
}

}  // namespace
}  // namespace restorekit::core
