#include <restorekit/core/archive_writer.hpp>

#include <fcntl.h>

#include <cerrno>
#include <cstring>

#include <gtest/gtest.h>

#include <restorekit/core/fs.hpp>

#include "test_support.hpp"

namespace restorekit::core {
namespace {

using test::ScratchDir;

TEST(ArchiveKindFromName, KnowsEverySupportedExtension) {
  EXPECT_EQ(*archive_kind_from_name("a/b.zip"), ArchiveKind::kZip);
  EXPECT_EQ(*archive_kind_from_name("b.TAR.GZ"), ArchiveKind::kTarGz);
  EXPECT_EQ(*archive_kind_from_name("b.tgz"), ArchiveKind::kTarGz);
  EXPECT_EQ(*archive_kind_from_name("b.tar.zst"), ArchiveKind::kTarZst);
  EXPECT_EQ(*archive_kind_from_name("b.tar.xz"), ArchiveKind::kTarXz);
  auto bad = archive_kind_from_name("backup.rar");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.error().message.find("backup.rar"), std::string::npos);
}

TEST(ArchiveWriter, RefusesAPasswordForTar) {
  std::vector<std::byte> out;
  WriterOptions o{ArchiveKind::kTarGz, std::string("pw"), -1, 0};
  auto w = ArchiveWriter::open_memory(out, o);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, ErrorCode::kInvalidArgument);
}

TEST(ArchiveWriter, RefusesMoreOrFewerBytesThanDeclared) {
  std::vector<std::byte> out;
  auto w = ArchiveWriter::open_memory(out, WriterOptions{ArchiveKind::kTarZst, {}, -1, 0});
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->begin_file("a", 3, 0));
  std::string four = "four";
  EXPECT_FALSE(w->write(std::as_bytes(std::span(four))));
  ASSERT_TRUE(w->write(std::as_bytes(std::span(four.data(), 2))));
  auto end = w->end_file();
  ASSERT_FALSE(end);
  EXPECT_NE(end.error().message.find("shrank"), std::string::npos);
}

// Tar names are written as UTF-8 (pax's default), which libarchive keeps byte-exact, so GNU
// tar, which does not know hdrcharset, reads them quietly. A name that is not UTF-8 is stored
// raw in that entry alone (hdrcharset=BINARY). A name holding UTF-16 surrogates written as
// UTF-8 is refused: libarchive would join a pair of them into another name. With raw_names,
// every name is stored raw.
TEST(ArchiveWriter, TarNamesAreUtf8WhereTheyCanBeAndRawOnlyWhereTheyMustBe) {
  RK_REQUIRE_TOOL("python3");
  RK_REQUIRE_TOOL("zstd");
  ScratchDir dir;
  const std::string bad = "bad\xff.txt";
  for (auto [kind, raw] :
       {std::pair{ArchiveKind::kTarGz, false}, std::pair{ArchiveKind::kTarZst, false},
        std::pair{ArchiveKind::kTarGz, true}}) {
    SCOPED_TRACE(std::string(archive_kind_name(kind)) + (raw ? ", raw names" : ""));
    std::vector<std::byte> out;
    auto w = ArchiveWriter::open_memory(out, WriterOptions{kind, {}, -1, 0, raw});
    ASSERT_TRUE(w);
    for (std::string name : {"ok.txt", "caf\xc3\xa9.txt", bad.c_str()}) {
      ASSERT_TRUE(w->begin_file(name, 0, 0)) << name;
      ASSERT_TRUE(w->end_file());
    }
    const std::string cesu = "cesu\xed\xa0\xbd\xed\xb8\x80.txt";  // U+1F600 as a surrogate pair
    auto pair = w->begin_file(cesu, 0, 0);
    if (raw) {
      ASSERT_TRUE(pair) << pair.error().message;
      ASSERT_TRUE(w->end_file());
    } else {
      ASSERT_FALSE(pair) << "a surrogate pair was written, as libarchive rewrites it";
      EXPECT_EQ(pair.error().code, ErrorCode::kInvalidArgument);
      EXPECT_NE(pair.error().message.find("surrogate"), std::string::npos) << pair.error().message;
    }
    ASSERT_TRUE(w->finish());
    auto file = dir / ((raw ? "raw." : "utf8.") + std::string(archive_kind_name(kind)));
    if (kind == ArchiveKind::kTarZst) {
      test::write_bytes(dir / "z", out);
      ASSERT_EQ(test::sh("zstd -qdf z -o " + file.string(), dir.path()), 0);
    } else {
      test::write_bytes(file, out);
    }
    std::map<std::string, bool> expected{{"ok.txt", raw}, {"caf\xc3\xa9.txt", raw}, {bad, true}};
    if (raw) expected[cesu] = true;
    EXPECT_EQ(test::tar_members(file), expected);
  }
}

// Every archive ends where its format ends: libarchive pads the last block to 10 KiB unless
// told otherwise, which left up to 10 KiB of zeros after a zip's end-of-central-directory
// record (readers search back for it, but the zip format ends with it).
TEST(ArchiveWriter, ArchivesEndWithoutPadding) {
  std::string data = "some bytes";
  for (auto kind : {ArchiveKind::kZip, ArchiveKind::kTarGz}) {
    SCOPED_TRACE(std::string(archive_kind_name(kind)));
    std::vector<std::byte> out;
    auto w = ArchiveWriter::open_memory(out, WriterOptions{kind, {}, -1, 0});
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->begin_file("a.txt", data.size(), 0));
    ASSERT_TRUE(w->write(std::as_bytes(std::span(data))));
    ASSERT_TRUE(w->end_file());
    ASSERT_TRUE(w->finish());
    ASSERT_GT(out.size(), 22u);
    EXPECT_LT(out.size(), 10240u);
    if (kind == ArchiveKind::kZip) {  // the end record, with no comment, is the last 22 bytes
      auto end = std::span(out).last(22);
      EXPECT_EQ(std::to_integer<int>(end[0]), 'P');
      EXPECT_EQ(std::to_integer<int>(end[1]), 'K');
      EXPECT_EQ(std::to_integer<int>(end[2]), 5);
      EXPECT_EQ(std::to_integer<int>(end[3]), 6);
    }
  }
}

// A file system that fills up while the archive is written: the error names the file and says
// to free space where it is.
TEST(ArchiveWriter, AFullFileSystemIsAnErrorThatSaysWhereToFreeSpace) {
  ScratchDir dir;
  auto mount = dir / "tight";
  test::Tmpfs tmpfs(mount, "64k");
  RK_REQUIRE_TMPFS(tmpfs);
  auto fd = create_new_file(mount / "big.tar.gz");
  ASSERT_TRUE(fd) << fd.error().message;
  auto w = ArchiveWriter::open_fd(fd->get(), (mount / "big.tar.gz").string(),
                                  WriterOptions{ArchiveKind::kTarGz, {}, -1, 0});
  ASSERT_TRUE(w) << w.error().message;
  auto noise = test::noise(256 * 1024, 7);
  Result<void> r = w->begin_file("noise.bin", noise.size(), 0);
  if (r) r = w->write(std::as_bytes(std::span(noise)));
  if (r) r = w->end_file();
  if (r) r = w->finish();
  ASSERT_FALSE(r) << "256 KiB written into a 64 KiB file system";
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
  const auto& m = r.error().message;
  EXPECT_NE(m.find(std::strerror(ENOSPC)), std::string::npos) << m;
  EXPECT_NE(m.find("free space on the file system that holds " + mount.string()), std::string::npos)
      << m;
}

TEST(ArchiveWriter, AesZipIsReadableBySevenZipWithThePasswordOnly) {
  RK_REQUIRE_TOOL("7z");
  ScratchDir dir;
  auto bytes = test::make_archive(ArchiveKind::kZip, {{"s.txt", "secret content"}}, "pässwört");
  {
    auto fd = create_new_file(dir / "aes.zip");
    ASSERT_TRUE(fd);
    ASSERT_TRUE(write_all(fd->get(), bytes.data(), bytes.size(), "aes.zip"));
  }
  auto good = test::run({"7z", "t", "-ppässwört", "aes.zip"}, dir.path());
  EXPECT_EQ(good.exit_code, 0) << good.out << good.err;
  auto bad = test::run({"7z", "t", "-pwrong", "aes.zip"}, dir.path());
  EXPECT_NE(bad.exit_code, 0);
  auto info = test::run({"7z", "l", "-slt", "-ppässwört", "aes.zip"}, dir.path());
  EXPECT_NE(info.out.find("AES-256"), std::string::npos) << info.out;
}

TEST(ArchiveWriter, TarKindsAreReadableByBsdtar) {
  RK_REQUIRE_TOOL("bsdtar");
  ScratchDir dir;
  for (auto kind : {ArchiveKind::kTarGz, ArchiveKind::kTarZst, ArchiveKind::kTarXz}) {
    auto bytes = test::make_archive(kind, {{"d/x.txt", "payload"}});
    std::string name = "t." + std::string(archive_kind_name(kind));
    test::write_file(dir / name,
                     std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    auto r = test::run({"bsdtar", "-xOf", name, "d/x.txt"}, dir.path());
    EXPECT_EQ(r.exit_code, 0) << name << r.err;
    EXPECT_EQ(r.out, "payload") << name;
  }
}

}  // namespace
}  // namespace restorekit::core

namespace restorekit::core {
namespace {

TEST(ArchiveWriter, ZstdFramesCarryContentChecksums) {
  auto bytes = test::make_archive(ArchiveKind::kTarZst, {{"a.txt", std::string(100000, 'a')}});
  ASSERT_GT(bytes.size(), 5u);
  EXPECT_EQ(bytes[0], std::byte{0x28});
  EXPECT_EQ(bytes[3], std::byte{0xfd});
  EXPECT_NE(static_cast<unsigned>(bytes[4]) & 0x04u, 0u) << "Content_Checksum_flag unset";
  RK_REQUIRE_TOOL("zstd");
  test::ScratchDir dir;
  test::write_file(dir / "t.tar.zst",
                   std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  bytes[bytes.size() - 2] ^= std::byte{0x01};  // inside the 4-byte frame checksum
  test::write_file(dir / "bad.tar.zst",
                   std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  EXPECT_EQ(test::run({"zstd", "-tq", "t.tar.zst"}, dir.path()).exit_code, 0);
  EXPECT_NE(test::run({"zstd", "-tq", "bad.tar.zst"}, dir.path()).exit_code, 0);
}

}  // namespace
}  // namespace restorekit::core
