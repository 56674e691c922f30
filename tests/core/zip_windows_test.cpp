// A zip's central directory read one window at a time (zip_windows.hpp) reads exactly what
// reading it whole reads: every entry's name, type, size, mode, time, link, encryption, problem
// and bytes (or the error reading them), and the archive's own error, on zips from every stock
// writer at hand, odd layouts (zip64, a self-extracting stub, a comment holding an end record,
// encryption), and the corpus's zips. Windows of 1, 2, 3 and 5 records put every boundary
// everywhere.
#include <algorithm>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <restorekit/core/archive_reader.hpp>
#include <restorekit/core/hash.hpp>

#include "test_support.hpp"

namespace restorekit::core {
namespace {

namespace fs = std::filesystem;

std::string error_text(const std::optional<Error>& e) {
  return e ? fmt::format("{}: {}", code_name(e->code), e->message) : "none";
}

// Everything a reader tells of each entry, one line each, and how the archive ended; `windows`
// counts the directory windows it read.
std::vector<std::string> reading(const fs::path& zip, std::size_t window,
                                 std::uint64_t* windows = nullptr, unsigned part = 0,
                                 unsigned parts = 1) {
  ReaderOptions o;
  o.zip_window_entries = window;
  o.zip_window_part = part;
  o.zip_window_parts = parts;
  o.passwords.candidates = {"wrong", "secret"};
  std::vector<std::string> lines;
  auto reader = ArchiveReader::open(zip, o);
  if (!reader) return {"open: " + error_text(reader.error())};
  for (;;) {
    auto e = reader->next();
    if (!e) {
      lines.push_back("end: " + error_text(e.error()));
      return lines;
    }
    if (windows) *windows = reader->zip_windows();
    EXPECT_EQ(reader->raw_size(), fs::file_size(zip)) << "the zip's size, windows or not";
    if (*e == nullptr) return lines;
    const Entry& entry = **e;
    std::string line = fmt::format(
        "{:08} {} {} size={} mode={:o} mtime={} link={} encrypted={} problem={}", entry.index,
        entry.raw_path, entry_type_name(entry.type), entry.size ? std::to_string(*entry.size) : "?",
        entry.mode, entry.mtime, entry.link_target, entry.encrypted, error_text(entry.problem));
    Hasher hasher;
    std::uint64_t bytes = 0;
    for (;;) {
      auto block = reader->read_block();
      if (!block) {
        line += " data-error=" + error_text(block.error());
        break;
      }
      if (block->empty()) break;
      hasher.update(*block);
      bytes += block->size();
    }
    line += fmt::format(" data={}:{}", bytes, hasher.digest().hex());
    lines.push_back(std::move(line));
  }
}

// Readers of `parts` parts of the windows read, together, what one reader of every window reads:
// each entry once, under the same index, and the directory's damage (an "end:" line) once. Where
// an entry's header ends one reader (libarchive's fatal error), the parts that read later
// windows read them too: their entries come after every entry the one reader read.
void expect_parts_read_the_same(const fs::path& zip, std::size_t window,
                                const std::vector<std::string>& one) {
  auto ended = [](const std::string& line) { return line.starts_with("end:"); };
  for (unsigned parts : {2u, 3u}) {
    SCOPED_TRACE(fmt::format("{} parts", parts));
    std::vector<std::string> entries, ends;
    for (unsigned part = 0; part < parts; ++part) {
      for (auto& line : reading(zip, window, nullptr, part, parts)) {
        (ended(line) ? ends : entries).push_back(std::move(line));
      }
    }
    std::sort(entries.begin(), entries.end());
    if (one.empty() || !ended(one.back())) {
      EXPECT_EQ(entries, one);
      EXPECT_EQ(ends, std::vector<std::string>{});
      continue;
    }
    std::vector<std::string> read_by_one(one.begin(), one.end() - 1);
    ASSERT_GE(entries.size(), read_by_one.size());
    EXPECT_TRUE(std::equal(read_by_one.begin(), read_by_one.end(), entries.begin()));
    EXPECT_EQ(std::count(ends.begin(), ends.end(), one.back()), 1) << one.back();
  }
}

// The windowed readings of `zip` equal the whole one. @return the number of entries read, and
// the windows of one record read.
struct Compared {
  std::size_t lines = 0;
  std::uint64_t windows = 0;
};
Compared expect_windows_read_the_same(const fs::path& zip) {
  SCOPED_TRACE(zip.string());
  std::uint64_t whole_windows = 0;
  auto whole = reading(zip, 0, &whole_windows);
  EXPECT_EQ(whole_windows, 0u);
  Compared out{whole.size(), 0};
  for (std::size_t window : {5, 3, 2, 1}) {
    SCOPED_TRACE(fmt::format("windows of {} records", window));
    auto windowed = reading(zip, window, &out.windows);
    EXPECT_EQ(windowed.size(), whole.size());
    for (std::size_t i = 0; i < std::min(windowed.size(), whole.size()); ++i) {
      EXPECT_EQ(windowed[i], whole[i]) << "line " << i;
    }
    expect_parts_read_the_same(zip, window, windowed);
  }
  // Not read in windows, the first part reads every entry and the others none.
  EXPECT_EQ(reading(zip, 0, nullptr, 0, 2), whole);
  EXPECT_EQ(reading(zip, 0, nullptr, 1, 2), std::vector<std::string>{});
  return out;
}

// A tree with what zips carry: deflated and incompressible data, an empty file, folders, a
// symlink, a non-ASCII name.
void make_tree(const fs::path& root) {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += fmt::format("line {} of a compressible document\n", i);
  test::write_file(root / "big.txt", text);
  test::write_file(root / "noise.bin", test::noise(100000, 11));
  test::write_file(root / "empty.txt", "");
  for (int i = 0; i < 12; ++i) {
    test::write_file(root / fmt::format("sub{}/f{}.txt", i % 3, i), fmt::format("file {}\n", i));
  }
  test::write_file(root / "sub0/deeper/Müller.txt", "unicode name\n");
  fs::create_symlink("sub0/f0.txt", root / "link");
}

TEST(ZipWindows, ReadExactlyWhatTheWholeDirectoryReads) {
  RK_REQUIRE_TOOL("zip");
  RK_REQUIRE_TOOL("python3");
  test::ScratchDir dir;
  make_tree(dir / "tree");
  std::vector<std::string> made = {
      "zip -qr -9 deflated.zip tree",
      "zip -qr -0 stored.zip tree",
      "zip -qry links.zip tree",
      "zip -qr -fd descriptors.zip tree",
      "zip -qr -fz zip64.zip tree",
      "zip -qr -P secret zipcrypto.zip tree",
      "cd tree && zip -qr - . > ../streamed.zip",
      // Bytes before the zip: its offsets are short by as many (libarchive corrects them), and
      // the zip64 end record's offset is the directory of the first zip.
      "cat stored.zip deflated.zip > concatenated.zip",
      "cat stored.zip zip64.zip > concatenated64.zip",
      // An empty zip before a zip64 one, the locator moved with it but not the offsets: from
      // the zip64 record's offset libarchive searches forward to the directory.
      "python3 -c \"import struct\n"
      "d = open('zip64.zip', 'rb').read(); p = b'PK\\x05\\x06' + bytes(18)\n"
      "i = d.rfind(b'PK\\x06\\x07'); at = struct.unpack_from('<Q', d, i + 8)[0] + len(p)\n"
      "open('prefixed64.zip', 'wb').write(p + d[:i + 8] + struct.pack('<Q', at) + "
      "d[i + 16:])\"",
      // A self-extracting layout (a stub that is no zip), offsets adjusted (zip -A) or not.
      "head -c 3000 /dev/urandom > stub && cat stub deflated.zip > sfx-raw.zip && "
      "cp sfx-raw.zip sfx-adjusted.zip && zip -qA sfx-adjusted.zip",
      // A comment that holds an end-of-directory signature, and one much longer than 16 KiB
      // (libarchive's seekable reader does not find the end record then).
      "python3 -c \"import zipfile, os\n"
      "for name, comment in (('comment-eocd.zip', b'note PK\\x05\\x06' + bytes(18) + b'end'), "
      "('comment-long.zip', b'x' * 20000)):\n"
      "  with zipfile.ZipFile(name, 'w', zipfile.ZIP_DEFLATED) as z:\n"
      "    z.comment = comment\n"
      "    for root, _, files in sorted(os.walk('tree')):\n"
      "      for f in sorted(files): z.write(os.path.join(root, f))\"",
  };
  if (test::have_tool("bsdtar")) made.push_back("bsdtar --format zip -cf bsdtar.zip tree");
  if (test::have_tool("7z")) {
    made.push_back("7z a -tzip -bso0 -bsp0 7z.zip tree");
    made.push_back("7z a -tzip -bso0 -bsp0 -psecret -mem=AES256 7z-aes.zip tree");
  }
  for (const auto& cmd : made) ASSERT_EQ(test::sh(cmd, dir.path()), 0) << cmd;
  int zips = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    if (e.path().extension() != ".zip") continue;
    auto name = e.path().filename().string();
    auto compared = expect_windows_read_the_same(e.path());
    ++zips;
    if (name == "comment-eocd.zip") {
      // libarchive takes the end record in the comment (the last one) for the zip's: it reads
      // an empty directory, either way.
      EXPECT_EQ(compared.lines, 0u);
      EXPECT_EQ(compared.windows, 0u);
    } else if (name == "comment-long.zip") {
      // No end record in the last 16 KiB: libarchive streams the local headers; no windows.
      EXPECT_GT(compared.lines, 10u);
      EXPECT_EQ(compared.windows, 0u);
    } else if (name == "concatenated64.zip") {
      // libarchive searches for the directory from the zip64 record's offset, which is short by
      // the first zip: it finds the first zip's directory (and fails), or none.
      EXPECT_LE(compared.lines, 1u);
    } else if (name.starts_with("sfx-")) {
      // A zip that does not start like one is read whole.
      EXPECT_GT(compared.lines, 10u);
      EXPECT_EQ(compared.windows, 0u);
    } else {
      // Every record (but a last one that libarchive may read with its end) a window.
      EXPECT_GE(compared.lines, 4u) << name;
      EXPECT_GE(compared.windows + 1, compared.lines) << name;
    }
  }
  EXPECT_GE(zips, 15);
  auto corpus = test::corpus_dir();
  if (!corpus) GTEST_SKIP() << "SKIPPED (corpus part): corpus not found (set RESTOREKIT_CORPUS)";
  int theirs = 0, windowed = 0;
  for (const char* folder : {"libarchive", "hostile"}) {
    for (const auto& e : fs::directory_iterator(*corpus / folder)) {
      if (e.path().extension() != ".zip") continue;
      windowed += expect_windows_read_the_same(e.path()).windows > 0;
      ++theirs;
    }
  }
  EXPECT_GT(theirs, 40);
  EXPECT_GT(windowed, 10);
}

// Each part inflates its own windows' entries itself (ISA-L), its directory cursor stepping over
// the records of the windows other parts read, instead of falling back to libarchive.
TEST(ZipWindows, EachPartInflatesItsOwnEntries) {
  RK_REQUIRE_TOOL("zip");
  test::ScratchDir dir;
  for (int i = 0; i < 40; ++i) {
    test::write_file(dir / fmt::format("in/{:02}.txt", i), std::string(1000 + i, 'a' + i % 26));
  }
  ASSERT_EQ(test::sh("zip -qrD z.zip in", dir.path()), 0);
  for (unsigned part = 0; part < 3; ++part) {
    ReaderOptions o;
    o.zip_window_entries = 4;
    o.zip_window_part = part;
    o.zip_window_parts = 3;
    auto reader = ArchiveReader::open(dir / "z.zip", o);
    ASSERT_TRUE(reader) << reader.error().message;
    std::uint64_t files = 0;
    for (;;) {
      auto e = reader->next();
      ASSERT_TRUE(e) << e.error().message;
      if (!*e) break;
      EXPECT_EQ((*e)->index / 4 % 3, part) << (*e)->raw_path;
      for (;;) {
        auto block = reader->read_block();
        ASSERT_TRUE(block) << block.error().message;
        if (block->empty()) break;
      }
      ++files;
    }
    EXPECT_EQ(files, part == 0 ? 16u : 12u);
    EXPECT_EQ(reader->own_zip_entries(), files) << "part " << part;
  }
  // Windows of up to 8,192 records, for two parts: one window of 20 each, by the end record.
  for (unsigned part = 0; part < 2; ++part) {
    ReaderOptions o;
    o.zip_window_part = part;
    o.zip_window_parts = 2;
    auto reader = ArchiveReader::open(dir / "z.zip", o);
    ASSERT_TRUE(reader) << reader.error().message;
    std::vector<std::uint64_t> indexes;
    for (auto e = reader->next(); e && *e; e = reader->next()) indexes.push_back((*e)->index);
    ASSERT_EQ(indexes.size(), 20u) << "part " << part;
    EXPECT_EQ(indexes.front(), 20u * part);
    EXPECT_EQ(indexes.back(), 20u * part + 19);
    EXPECT_EQ(reader->zip_windows(), 2u) << "windows made, its own and the other part's";
  }
}

// A wrong password offered before the right one is not tried on each window's first encrypted
// entry: ZipCrypto's one-byte check lets 1 in 256 wrong passwords through, and the entry then
// fails its CRC. 2,000 windows of one record each would let about 8 through (the chance that
// none does: 0.04%). The reader finds the right one first (ArchiveReader.AWrongPasswordThat...),
// and a window's new reader is offered the one in use first.
TEST(ZipWindows, AWrongPasswordOfferedFirstIsNotTriedAgainInEveryWindow) {
  RK_REQUIRE_TOOL("zip");
  test::ScratchDir dir;
  for (int i = 0; i < 2000; ++i) {
    test::write_file(dir / fmt::format("in/{}/{}.txt", i % 20, i), fmt::format("entry {}\n", i));
  }
  auto errors = [](const std::vector<std::string>& lines) {
    return std::count_if(lines.begin(), lines.end(), [](const std::string& l) {
      return l.find("error=") != std::string::npos || l.starts_with("end:");
    });
  };
  ASSERT_EQ(test::sh("zip -qr -P secret z.zip in", dir.path()), 0);
  auto whole = reading(dir / "z.zip", 0);
  ASSERT_EQ(errors(whole), 0) << "entries whose CRC failed: a wrong password let through";
  std::uint64_t windows = 0;
  auto windowed = reading(dir / "z.zip", 1, &windows);
  EXPECT_GT(windows, 1000u);
  EXPECT_EQ(errors(windowed), 0) << "entries whose CRC failed: a wrong password let through";
  EXPECT_TRUE(windowed == whole);
}

// A directory that stops parsing part-way: read whole, libarchive refuses the zip at its first
// header; read in windows, the entries before the damage are read and the same error ends it.
TEST(ZipWindows, ADirectoryDamagedPartWayEndsTheReadingWithLibarchivesError) {
  RK_REQUIRE_TOOL("zip");
  test::ScratchDir dir;
  make_tree(dir / "tree");
  ASSERT_EQ(test::sh("zip -qr -9 z.zip tree", dir.path()), 0);
  auto bytes = test::read_file(dir / "z.zip");
  // The eighth directory record's signature.
  std::size_t at = bytes.size();
  for (int n = 0; n < 8; ++n) at = bytes.rfind("PK\x01\x02", at - 1);
  std::size_t records = 0;
  for (std::size_t p = bytes.find("PK\x01\x02"); p < at; p = bytes.find("PK\x01\x02", p + 1)) {
    ++records;
  }
  ASSERT_GT(records, 3u);
  bytes[at + 2] = 'X';
  test::write_file(dir / "z.zip", bytes);
  auto whole = reading(dir / "z.zip", 0);
  ASSERT_EQ(whole.size(), 1u);
  EXPECT_NE(whole[0].find("Invalid central directory signature"), std::string::npos) << whole[0];
  for (std::size_t window : {1, 2, 3}) {
    auto windowed = reading(dir / "z.zip", window);
    ASSERT_EQ(windowed.size(), records + 1);  // the records before, then the error
    EXPECT_EQ(windowed.back(), whole[0]);
    EXPECT_EQ(windowed.back().rfind("end: CORRUPT_DATA", 0), 0u) << windowed.back();
    // Read in parts, the part that read the last window before the damage reports it.
    expect_parts_read_the_same(dir / "z.zip", window, windowed);
  }
}

}  // namespace
}  // namespace restorekit::core
