#include <restorekit/core/archive_reader.hpp>
#include <restorekit/core/names.hpp>

#include <cerrno>
#include <clocale>

#include <archive.h>
#include <archive_entry.h>

#include <map>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <zstd.h>

#include <cstring>
#include <limits>

#include "test_support.hpp"

namespace restorekit::core {
namespace {

using test::MemoryEntry;
using test::ScratchDir;

struct ReadEntry {
  std::string path;
  EntryType type = EntryType::kFile;
  std::string data;
  std::optional<Error> problem;
  std::optional<Error> data_error;
  std::string raw_path;  // as the archive spells it
};

struct ReadAll {
  std::vector<ReadEntry> entries;
  std::optional<Error> fatal;
};

ReadAll read_all(ArchiveReader& reader) {
  ReadAll out;
  for (;;) {
    auto e = reader.next();
    if (!e) {
      out.fatal = e.error();
      return out;
    }
    if (*e == nullptr) return out;
    ReadEntry re{(*e)->safe() ? (*e)->path : (*e)->raw_path,
                 (*e)->type,
                 {},
                 (*e)->problem,
                 {},
                 (*e)->raw_path};
    for (;;) {
      auto block = reader.read_block();
      if (!block) {
        re.data_error = block.error();
        break;
      }
      if (block->empty()) break;
      re.data.append(reinterpret_cast<const char*>(block->data()), block->size());
    }
    out.entries.push_back(std::move(re));
  }
}

ReadAll read_memory(const std::vector<std::byte>& bytes, ReaderOptions options = {}) {
  auto reader = ArchiveReader::open(memory_source(bytes), std::move(options));
  if (!reader) return ReadAll{{}, reader.error()};
  return read_all(*reader);
}

using test::raw_tar;
using test::RawEntry;

class ArchiveReaderRoundTrip : public ::testing::TestWithParam<ArchiveKind> {};

TEST_P(ArchiveReaderRoundTrip, ReadsBackWhatTheWriterWrote) {
  std::string big(3 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 7919) >> 3);
  auto bytes = test::make_archive(GetParam(), {{"docs/", ""},
                                               {"docs/a.txt", "hello"},
                                               {"docs/Müller/報告.txt", "unicode"},
                                               {"db/big.bin", big},
                                               {"empty.txt", ""}});
  auto all = read_memory(bytes);
  ASSERT_FALSE(all.fatal) << all.fatal->message;
  ASSERT_EQ(all.entries.size(), 5u);
  EXPECT_EQ(all.entries[0].type, EntryType::kDirectory);
  EXPECT_EQ(all.entries[0].path, "docs");
  EXPECT_EQ(all.entries[1].data, "hello");
  EXPECT_EQ(all.entries[2].path, "docs/Müller/報告.txt");
  EXPECT_EQ(all.entries[3].data, big);
  EXPECT_EQ(all.entries[4].data, "");
  for (const auto& e : all.entries) EXPECT_FALSE(e.data_error) << e.path;
}

TEST_P(ArchiveReaderRoundTrip, ReportsFormatAndFilters) {
  auto bytes = test::make_archive(GetParam(), {{"a.txt", "a"}});
  auto reader = ArchiveReader::open(memory_source(bytes));
  ASSERT_TRUE(reader);
  ASSERT_TRUE(reader->next());
  std::string kind(archive_kind_name(GetParam()));
  if (GetParam() == ArchiveKind::kZip) {
    EXPECT_EQ(reader->info().format, "zip");
    EXPECT_TRUE(reader->info().filters.empty());
  } else {
    EXPECT_EQ(reader->info().format, "tar");
    ASSERT_EQ(reader->info().filters.size(), 1u);
    EXPECT_EQ("tar." + std::string(reader->info().filters[0] == "gzip"   ? "gz"
                                   : reader->info().filters[0] == "zstd" ? "zst"
                                                                         : "xz"),
              kind);
  }
}

INSTANTIATE_TEST_SUITE_P(AllKinds, ArchiveReaderRoundTrip,
                         ::testing::Values(ArchiveKind::kZip, ArchiveKind::kTarGz,
                                           ArchiveKind::kTarZst, ArchiveKind::kTarXz));

TEST(ArchiveReader, ListsUnsafeEntriesWithTheirProblemInsteadOfFailing) {
  auto bytes = raw_tar({{"../escape.txt", AE_IFREG, "x", ""},
                        {"/etc/absolute", AE_IFREG, "x", ""},
                        {"docs/link", AE_IFLNK, "", "/etc/passwd"},
                        {"docs/up", AE_IFLNK, "", "../../outside"},
                        {"docs/fifo", AE_IFIFO, "", ""},
                        {"docs/dev", AE_IFCHR, "", ""},
                        {"C:/win.txt", AE_IFREG, "x", ""},
                        {"docs/ok.txt", AE_IFREG, "fine", ""}});
  auto all = read_memory(bytes);
  ASSERT_FALSE(all.fatal);
  ASSERT_EQ(all.entries.size(), 8u);
  EXPECT_EQ(all.entries[0].problem->code, ErrorCode::kUnsafePath);
  EXPECT_EQ(all.entries[1].problem->code, ErrorCode::kUnsafePath);
  EXPECT_EQ(all.entries[2].problem->code, ErrorCode::kUnsafeLink);
  EXPECT_EQ(all.entries[3].problem->code, ErrorCode::kUnsafeLink);
  EXPECT_EQ(all.entries[4].problem->code, ErrorCode::kUnsafePath);
  EXPECT_EQ(all.entries[5].problem->code, ErrorCode::kUnsafePath);
  EXPECT_EQ(all.entries[6].problem->code, ErrorCode::kUnsafePath);
  EXPECT_FALSE(all.entries[7].problem);
  EXPECT_EQ(all.entries[7].data, "fine");
}

TEST(ArchiveReader, RefusesBytesThatAreNoArchive) {
  std::string text = "just some text, not an archive at all";
  auto reader = ArchiveReader::open(memory_source(std::as_bytes(std::span(text))));
  ASSERT_FALSE(reader);
  EXPECT_EQ(reader.error().code, ErrorCode::kNotAnArchive);
  std::vector<std::byte> empty;
  auto none = ArchiveReader::open(memory_source(empty));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::kNotAnArchive);
}

TEST(ArchiveReader, MissingFileIsNotFound) {
  auto r = ArchiveReader::open("/nonexistent/backup.zip");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_NE(r.error().message.find("/nonexistent/backup.zip"), std::string::npos);
}

TEST(ArchiveReader, DirectoryIsNotAnArchive) {
  ScratchDir dir;
  auto r = ArchiveReader::open(dir.path());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

TEST(ArchiveReader, TruncatedTarGzIsReportedAsTruncatedAtEveryCut) {
  std::string payload(200000, 'a');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * i % 251);
  auto bytes = test::make_archive(ArchiveKind::kTarGz, {{"a.bin", payload}, {"b.txt", "b"}});
  for (std::size_t cut : {bytes.size() / 4, bytes.size() / 2, bytes.size() - 30}) {
    std::vector<std::byte> part(bytes.begin(), bytes.begin() + static_cast<long>(cut));
    auto all = read_memory(part);
    bool failed = all.fatal.has_value();
    for (const auto& e : all.entries) failed = failed || e.data_error.has_value();
    EXPECT_TRUE(failed) << "cut at " << cut;
    if (all.fatal) {
      EXPECT_EQ(all.fatal->code, ErrorCode::kTruncated) << all.fatal->message;
    }
  }
}

TEST(ArchiveReader, ZipCrcErrorFailsTheEntryAtItsEnd) {
  std::string payload(5000, 'z');
  auto bytes = test::make_archive(ArchiveKind::kZip, {{"a.txt", payload}});
  // A stored CRC is 4 bytes at offset 14 of the local header and again in the central
  // directory; corrupt both so that only the data check can catch it.
  std::string needle = "a.txt";
  for (std::size_t i = 0; i + 4 < bytes.size(); ++i) {
    if (bytes[i] == std::byte{'P'} && bytes[i + 1] == std::byte{'K'} &&
        ((bytes[i + 2] == std::byte{3} && bytes[i + 3] == std::byte{4}))) {
      bytes[i + 14] ^= std::byte{0xff};
    }
    if (bytes[i] == std::byte{'P'} && bytes[i + 1] == std::byte{'K'} &&
        bytes[i + 2] == std::byte{1} && bytes[i + 3] == std::byte{2}) {
      bytes[i + 16] ^= std::byte{0xff};
    }
    if (bytes[i] == std::byte{'P'} && bytes[i + 1] == std::byte{'K'} &&
        bytes[i + 2] == std::byte{7} && bytes[i + 3] == std::byte{8}) {
      bytes[i + 4] ^= std::byte{0xff};
    }
  }
  auto all = read_memory(bytes);
  bool crc = false;
  for (const auto& e : all.entries)
    crc = crc || (e.data_error && e.data_error->code == ErrorCode::kCrcError);
  EXPECT_TRUE(crc);
}

TEST(ArchiveReader, EncryptedZipNeedsThePassword) {
  auto bytes = test::make_archive(ArchiveKind::kZip, {{"secret.txt", "classified"}}, "pw123");
  auto none = read_memory(bytes);
  ASSERT_EQ(none.entries.size(), 1u);
  ASSERT_TRUE(none.entries[0].data_error);
  EXPECT_EQ(none.entries[0].data_error->code, ErrorCode::kPasswordRequired);

  ReaderOptions wrong;
  wrong.passwords.candidates = {"nope"};
  auto bad = read_memory(bytes, wrong);
  ASSERT_TRUE(bad.entries[0].data_error);
  EXPECT_EQ(bad.entries[0].data_error->code, ErrorCode::kBadPassword);

  ReaderOptions right;
  right.passwords.candidates = {"nope", "pw123"};
  auto good = read_memory(bytes, right);
  ASSERT_FALSE(good.entries[0].data_error) << good.entries[0].data_error->message;
  EXPECT_EQ(good.entries[0].data, "classified");
}

// ZipCrypto checks a password against one byte of each entry's encryption header: 1 wrong
// password in 256 passes it, and libarchive then decrypts garbage (an inflate error, or for a
// stored entry a CRC error at its end). A zip that lets "wrong" through is made by trial (each
// has a random header), deflated and stored, and read with "wrong" offered before "secret": the
// reader must find the right one, by a whole entry read clean, instead of reporting damage that
// is not there. Each reader of several candidates had this chance of a false CORRUPT_DATA at its
// first encrypted entry.
TEST(ArchiveReader, AWrongPasswordThatPassesZipCryptosCheckIsNotTakenForTheRightOne) {
  RK_REQUIRE_TOOL("zip");
  ScratchDir dir;
  std::string text;
  for (int i = 0; i < 200; ++i) text += fmt::format("line {} of the document\n", i);
  test::write_file(dir / "doc.txt", text);
  auto reads = [&](std::vector<std::string> candidates) {
    ReaderOptions o;
    o.passwords.candidates = std::move(candidates);
    auto reader = ArchiveReader::open(dir / "z.zip", o);
    return reader ? read_all(*reader) : ReadAll{{}, reader.error()};
  };
  for (std::string method : {"-6", "-0"}) {
    SCOPED_TRACE(method == "-0" ? "stored" : "deflated");
    bool let_through = false;
    for (int attempt = 0; attempt < 4000 && !let_through; ++attempt) {
      std::filesystem::remove(dir / "z.zip");
      ASSERT_EQ(test::sh("zip -q " + method + " -P secret z.zip doc.txt", dir.path()), 0);
      auto wrong = reads({"wrong"});
      ASSERT_EQ(wrong.entries.size(), 1u);
      ASSERT_TRUE(wrong.entries[0].data_error);
      let_through = wrong.entries[0].data_error->code != ErrorCode::kBadPassword;
    }
    ASSERT_TRUE(let_through) << "4,000 zips and none let the wrong password through";
    for (auto order : {std::vector<std::string>{"wrong", "secret"},
                       std::vector<std::string>{"wrong", "other", "secret"},
                       std::vector<std::string>{"secret", "wrong"}}) {
      auto all = reads(order);
      ASSERT_EQ(all.entries.size(), 1u);
      EXPECT_FALSE(all.entries[0].data_error)
          << order[0] << ": " << all.entries[0].data_error->message;
      EXPECT_TRUE(all.entries[0].data == text) << order[0] << ": the entry's bytes differ";
    }
    // No right candidate: the entry is still reported, as before.
    auto none = reads({"wrong", "other"});
    ASSERT_EQ(none.entries.size(), 1u);
    EXPECT_TRUE(none.entries[0].data_error);
  }
}

TEST(ArchiveReader, PasswordPromptIsAskedWhenCandidatesRunOut) {
  auto bytes = test::make_archive(ArchiveKind::kZip, {{"s.txt", "data"}}, "right");
  int asked = 0;
  ReaderOptions o;
  o.passwords.prompt = [&]() -> std::optional<std::string> {
    ++asked;
    return std::string("right");
  };
  auto all = read_memory(bytes, o);
  ASSERT_FALSE(all.entries[0].data_error);
  EXPECT_EQ(all.entries[0].data, "data");
  EXPECT_GE(asked, 1);
}

TEST(ArchiveReader, EncryptedSevenZipIsUnsupportedWithAClearError) {
  RK_REQUIRE_TOOL("7z");
  ScratchDir dir;
  test::write_file(dir / "in/a.txt", "secret");
  ASSERT_EQ(test::sh("7z a -pabc secret.7z in >/dev/null", dir.path()), 0);
  ASSERT_EQ(test::sh("7z a -pabc -mhe=on hidden.7z in >/dev/null", dir.path()), 0);
  for (const char* name : {"secret.7z", "hidden.7z"}) {
    ReaderOptions o;
    o.passwords.candidates = {"abc"};
    auto reader = ArchiveReader::open(dir / name, o);
    ErrorCode code = ErrorCode::kInternal;
    if (!reader) {
      code = reader.error().code;
    } else {
      auto all = read_all(*reader);
      if (all.fatal) code = all.fatal->code;
      for (const auto& e : all.entries) {
        if (e.data_error) code = e.data_error->code;
      }
    }
    EXPECT_EQ(code, ErrorCode::kEncryptionUnsupported) << name;
  }
}

TEST(ArchiveReader, StopsADecompressionBombAtTheRatioLimit) {
  std::string zeros(8 << 20, '\0');
  auto bytes = test::make_archive(ArchiveKind::kTarZst, {{"bomb.bin", zeros}});
  ReaderOptions o;
  o.limits.ratio_grace_bytes = 1 << 20;
  o.limits.max_ratio = 50;
  auto reader = ArchiveReader::open(memory_source(bytes), o);
  ASSERT_TRUE(reader);
  auto all = read_all(*reader);
  ASSERT_EQ(all.entries.size(), 1u);
  ASSERT_TRUE(all.entries[0].data_error);
  EXPECT_EQ(all.entries[0].data_error->code, ErrorCode::kRatioLimit);
  EXPECT_LT(all.entries[0].data.size(), zeros.size());
  EXPECT_TRUE(reader->dead());
}

// A bomb made of many small gzip members (4 GiB of zeros in 4 MiB, ~1030:1, just past a
// limit of 900:1): the ratio compares the output with the compressed bytes the decoder has
// consumed, not with what the reading thread holds ahead of it, so it stops within a few MiB
// of the grace. (Counted as read, the megabytes read ahead let it run on for about a gigabyte.)
TEST(ArchiveReader, TheRatioLimitCountsWhatTheDecoderConsumedNotWhatWasReadAhead) {
  RK_REQUIRE_TOOL("tar");
  RK_REQUIRE_TOOL("gzip");
  ScratchDir dir;
  ASSERT_EQ(test::sh("truncate -s 4G bomb.bin && (tar --format=ustar -cf - bomb.bin | head -c 512 "
                     "> header.tar; true) && gzip -c header.tar > bomb.tgz && head -c 1048576 "
                     "/dev/zero | gzip -c > z && for i in 1 2 3 4 5 6 7 8 9 10 11 12; do cat z z "
                     "> z2 && mv z2 z; done && cat z >> bomb.tgz && rm bomb.bin",
                     dir.path()),
            0);
  auto source = open_file_source(dir / "bomb.tgz");
  ASSERT_TRUE(source);
  ASSERT_GT(*(*source)->size(), std::uint64_t{3} << 20) << "several read chunks of input";
  ReaderOptions o;
  o.limits.ratio_grace_bytes = 1 << 20;
  o.limits.max_ratio = 900;
  auto reader = ArchiveReader::open(std::move(*source), o);
  ASSERT_TRUE(reader) << reader.error().message;
  auto entry = reader->next();
  ASSERT_TRUE(entry && *entry) << (entry ? "no entry" : entry.error().message);
  EXPECT_EQ((*entry)->size, std::uint64_t{4} << 30);
  std::uint64_t read = 0;
  std::optional<Error> stopped;
  for (;;) {
    auto block = reader->read_block();
    if (!block) {
      stopped = block.error();
      break;
    }
    if (block->empty()) break;
    read += block->size();
  }
  ASSERT_TRUE(stopped) << "read " << read << " bytes without stopping";
  EXPECT_EQ(stopped->code, ErrorCode::kRatioLimit) << stopped->message;
  EXPECT_LT(read, std::uint64_t{64} << 20);
}

TEST(ArchiveReader, StopsAtTheEntryAndSizeLimits) {
  std::vector<MemoryEntry> many;
  for (int i = 0; i < 20; ++i) many.push_back({std::string("f").append(std::to_string(i)), "x"});
  auto bytes = test::make_archive(ArchiveKind::kTarGz, many);
  ReaderOptions few;
  few.limits.max_entries = 5;
  auto all = read_memory(bytes, few);
  ASSERT_TRUE(all.fatal);
  EXPECT_EQ(all.fatal->code, ErrorCode::kLimitExceeded);
  EXPECT_EQ(all.entries.size(), 5u);

  ReaderOptions small;
  small.limits.max_total_bytes = 10;
  auto sized = read_memory(bytes, small);
  // The decoded stream counts (tar headers too): the limit may stop the reader before an entry.
  bool limited = sized.fatal && sized.fatal->code == ErrorCode::kLimitExceeded;
  for (const auto& e : sized.entries) {
    limited = limited || (e.data_error && e.data_error->code == ErrorCode::kLimitExceeded);
  }
  EXPECT_TRUE(limited);
}

// A source that fails its Nth read (never with 0), 1,000 bytes a read unless told: every
// failure must surface as a clean error.
class FailingSource final : public ByteSource {
 public:
  FailingSource(std::span<const std::byte> data, int fail_at, std::size_t read_size = 1000)
      : data_(data), fail_at_(fail_at), read_size_(read_size) {}
  Result<std::span<const std::byte>> read() override {
    if (++reads_ == fail_at_) return fail(ErrorCode::kIo, "injected read failure", "<fault>");
    auto chunk = data_.subspan(pos_, std::min(read_size_, data_.size() - pos_));
    pos_ += chunk.size();  // many small reads, so that failures land everywhere
    return chunk;
  }
  Result<std::uint64_t> seek(std::int64_t, int) override {
    return fail(ErrorCode::kInvalidArgument, "not seekable");
  }
  [[nodiscard]] bool seekable() const override { return false; }
  [[nodiscard]] std::optional<std::uint64_t> size() const override { return data_.size(); }
  [[nodiscard]] std::string name() const override { return "<fault>"; }

 private:
  std::span<const std::byte> data_;
  std::size_t pos_ = 0;
  int fail_at_;
  std::size_t read_size_;
  int reads_ = 0;
};

// libarchive's name getters end the process (exit 1, "No memory") when a name cannot be
// converted and errno happens to hold ENOMEM from anything earlier (in fuzzing: a refused
// multi-GiB LZMA dictionary). The source below leaves errno so after every read, as a failed
// allocation on the way would; the reader clears it, so the name is a finding, not an exit.
class EnomemSource final : public ByteSource {
 public:
  explicit EnomemSource(std::span<const std::byte> data) : data_(data) {}
  Result<std::span<const std::byte>> read() override {
    auto chunk = data_.subspan(pos_);
    pos_ = data_.size();
    errno = ENOMEM;
    return chunk;
  }
  Result<std::uint64_t> seek(std::int64_t, int) override {
    return fail(ErrorCode::kInvalidArgument, "not seekable");
  }
  [[nodiscard]] bool seekable() const override { return false; }
  [[nodiscard]] std::optional<std::uint64_t> size() const override { return data_.size(); }
  [[nodiscard]] std::string name() const override { return "<enomem>"; }

 private:
  std::span<const std::byte> data_;
  std::size_t pos_ = 0;
};

TEST(ArchiveReader, ANameThatIsNotUtf8AfterAFailedAllocationIsAFindingNotAnExit) {
  RK_REQUIRE_TOOL("bsdtar");
  ScratchDir dir;
  test::write_file(dir / "docs/bad\xff\xfe.txt", "x");
  test::write_file(dir / "docs/ok.txt", "fine");
  // cpio keeps names unconverted until they are asked for (tar converts while reading, which
  // happens to reset errno).
  ASSERT_EQ(test::sh("bsdtar --format=newc -cf names.cpio docs/bad* docs/ok.txt", dir.path()), 0);
  auto bytes = test::read_file(dir / "names.cpio");
  auto reader =
      ArchiveReader::open(std::make_unique<EnomemSource>(std::as_bytes(std::span(bytes))));
  ASSERT_TRUE(reader);
  auto all = read_all(*reader);
  ASSERT_EQ(all.entries.size(), 2u);
  ASSERT_TRUE(all.entries[0].problem);
  EXPECT_EQ(all.entries[0].problem->code, ErrorCode::kUnsafePath);
  EXPECT_EQ(all.entries[1].path, "docs/ok.txt");
}

// Names come out as UTF-8 whatever made the archive: ASCII as stored, other UTF-8 (NFC and
// NFD spellings) as libarchive converts it, and a name that is not UTF-8 is UNSAFE_PATH.
TEST(ArchiveReader, NamesAreReadAsUtf8AndOthersAreUnsafeInEveryFormat) {
  RK_REQUIRE_TOOL("bsdtar");
  RK_REQUIRE_TOOL("7z");
  RK_REQUIRE_TOOL("zip");
  ScratchDir dir;
  const std::string nfc = "d/Z\xc3\xbcrich.txt";
  const std::string nfd = "d/Zu\xcc\x88rich-2.txt";
  test::write_file(dir / "in/d/plain.txt", "a");
  test::write_file(dir / ("in/" + nfc), "b");
  test::write_file(dir / ("in/" + nfd), "c");
  test::write_file(dir / "in/d/bad\xff.txt", "d");
  ASSERT_EQ(test::sh("LC_ALL=C.UTF-8 bsdtar -cf ../t.tar d && LC_ALL=C.UTF-8 tar -czf ../gnu.tgz d"
                     " && LC_ALL=C.UTF-8 zip -qr ../z.zip d && 7z a ../s.7z d >/dev/null",
                     dir / "in"),
            0);
  for (const char* name : {"t.tar", "gnu.tgz", "z.zip", "s.7z"}) {
    SCOPED_TRACE(name);
    auto reader = ArchiveReader::open(dir / name);
    ASSERT_TRUE(reader) << reader.error().message;
    auto all = read_all(*reader);
    std::set<std::string> paths, as_stored;
    int unsafe = 0;
    for (const auto& e : all.entries) {
      if (e.type == EntryType::kDirectory) continue;
      if (e.problem) {
        EXPECT_EQ(e.problem->code, ErrorCode::kUnsafePath) << e.problem->message;
        EXPECT_NE(e.problem->message.find("cannot be read as UTF-8"), std::string::npos);
        ++unsafe;
      } else if (!e.path.starts_with("d/bad")) {
        paths.insert(e.path);
        as_stored.insert(e.raw_path);
      }
    }
    // As the archive spells them: GNU tar and Info-ZIP keep the file system's bytes (bsdtar
    // and 7-Zip store this NFD name in NFC).
    EXPECT_EQ(paths, as_stored);
    std::set<std::string> keys;
    for (const auto& p : paths) keys.insert(name_key(p));
    EXPECT_EQ(keys, (std::set<std::string>{"d/plain.txt", nfc, name_key(nfd)}));
    if (std::string_view(name) == "gnu.tgz" || std::string_view(name) == "z.zip") {
      EXPECT_EQ(as_stored, (std::set<std::string>{"d/plain.txt", nfc, nfd}));
    }
    // 7z stores UTF-16: 7-Zip made a character of the byte 0xff, and the name is readable.
    EXPECT_EQ(unsafe, std::string_view(name) == "s.7z" ? 0 : 1);
  }
}

// libarchive's zip reader asks for an entry's wide name itself, inside
// archive_read_next_header: with a name that does not convert and errno left at ENOMEM by an
// earlier, handled failure, libarchive called exit(1) (found by fuzz_archive; the input is the
// fuzzer's, a streamed zip whose first name is "file\xd8").
TEST(ArchiveReader, AZipNameThatDoesNotConvertAfterAFailedAllocationIsNotAnExit) {
  const std::string zip(
      "PK\003\004\012\000\000\000\000\000CDxC\004\367)\342\006\000\000\000\006\000\000\000\005\000"
      "\000\000file\3301file1\012PK\003\004\012\000\000dir2/PK\001\002\036\003\012\000\000\000\000"
      "\000CDxC\004\347cu\363\335uV\025\000\000\000\005\000\000\000\000\000\000\000\001\000\000\000"
      "\244\001\000\000\000\000file1PK\001\002\036\003\012\000\000\000\000\000EDxC\000\000\000\000"
      "\000\000\000\000\000\000\000\000\005\000\000\000\000\000\000\000\000\000\020\000\355\001)"
      "\000\000\000dir2/PK\005\006\000\000\000\000\002\000\002\000f\000\000\000L\000\000\000\000"
      "\000",
      178);
  auto reader = ArchiveReader::open(std::make_unique<EnomemSource>(std::as_bytes(std::span(zip))));
  if (reader) read_all(*reader);  // any outcome but an exit: an error, a finding, the entries
  SUCCEED();
}

// Read ahead (Prefetch::kYes: gzip, xz and streamed zstd are read on one thread and decoded on
// another) or in place, a failed read surfaces as the same clean error.
TEST(ArchiveReader, FailingReadAtAnyPointGivesACleanIoError) {
  // Incompressible, so that the archive needs many reads.
  std::string payload = test::noise(20000, 42);
  for (auto kind : {ArchiveKind::kTarGz, ArchiveKind::kTarXz, ArchiveKind::kTarZst}) {
    auto bytes = test::make_archive(kind, {{"a", payload}, {"b", payload}});
    for (auto prefetch : {Prefetch::kNo, Prefetch::kYes}) {
      SCOPED_TRACE(
          fmt::format("kind {}, prefetch {}", static_cast<int>(kind), prefetch == Prefetch::kYes));
      ReaderOptions options;
      options.prefetch = prefetch;
      int failures_seen = 0;
      for (int n = 1; n < 40; ++n) {
        auto reader = ArchiveReader::open(std::make_unique<FailingSource>(bytes, n), options);
        if (!reader) {
          EXPECT_EQ(reader.error().code, ErrorCode::kIo) << n;
          ++failures_seen;
          continue;
        }
        auto all = read_all(*reader);
        std::optional<Error> err = all.fatal;
        for (const auto& e : all.entries) {
          if (e.data_error) err = e.data_error;
        }
        if (!err) {
          if (auto drained = reader->drain(); !drained) err = drained.error();
        }
        if (err) {
          EXPECT_EQ(err->code, ErrorCode::kIo) << "read " << n << ": " << err->message;
          ++failures_seen;
        } else {
          ASSERT_EQ(all.entries.size(), 2u);
          EXPECT_EQ(all.entries[1].data, payload);
        }
      }
      EXPECT_GT(failures_seen, 3);
    }
  }
}

// Reads everything, drains the stream, and says whether anything at all was reported.
bool anything_reported(const std::vector<std::byte>& bytes) {
  auto reader = ArchiveReader::open(memory_source(bytes));
  if (!reader) return true;
  auto all = read_all(*reader);
  bool reported = all.fatal.has_value() || !reader->stream_notes().empty();
  for (const auto& e : all.entries) reported = reported || e.data_error || e.problem;
  if (!all.fatal && !reader->drain()) reported = true;
  return reported || !reader->stream_notes().empty();
}

TEST(ArchiveReader, EveryFlippedByteOfAGnuTarGzIsReported) {
  RK_REQUIRE_TOOL("tar");
  RK_REQUIRE_TOOL("gzip");
  ScratchDir dir;
  test::write_file(dir / "d/a.txt", "hello\n");
  std::string text;
  for (int i = 0; i < 300; ++i) text += "line " + std::to_string(i * 7919) + "\n";
  test::write_file(dir / "d/b.txt", text);
  ASSERT_EQ(test::sh("tar czf t.tgz d", dir.path()), 0);
  auto data = test::read_file(dir / "t.tgz");
  std::vector<std::byte> bytes(data.size());
  std::memcpy(bytes.data(), data.data(), data.size());
  ASSERT_FALSE(anything_reported(bytes)) << "the intact archive must read cleanly";
  ASSERT_EQ(test::sh("gzip -dc t.tgz > t.tar", dir.path()), 0);
  std::vector<std::size_t> missed;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    auto flipped = bytes;
    flipped[i] ^= std::byte{0xff};
    if (anything_reported(flipped)) continue;
    // Deflate's little redundancy: a flip may decode to the very same bytes (see verify_test).
    test::write_bytes(dir / "f.tgz", flipped);
    if (test::run({"/bin/sh", "-c", "gzip -dc f.tgz | cmp -s - t.tar"}, dir.path()).exit_code !=
        0) {
      missed.push_back(i);
    }
  }
  EXPECT_TRUE(missed.empty()) << missed.size() << " of " << bytes.size()
                              << " flipped bytes went unnoticed, first at offset "
                              << (missed.empty() ? 0 : missed.front());
}

// A tar split at arbitrary points into gzip members (as pigz --independent, bgzip or
// `cat a.gz b.gz` make): every member boundary falls somewhere else in the decoder's input
// chunks and in igzip's read-ahead, and each member's own trailer is checked.
TEST(ArchiveReader, MultiMemberGzipReadsWholeAndChecksEveryTrailer) {
  RK_REQUIRE_TOOL("tar");
  RK_REQUIRE_TOOL("gzip");
  RK_REQUIRE_TOOL("split");
  ScratchDir dir;
  std::string text;
  for (int i = 0; i < 40000; ++i) text += "row " + std::to_string(i * 7919 % 100003) + "\n";
  std::map<std::string, std::string> files;
  for (int i = 0; i < 5; ++i) {
    files[fmt::format("d/doc{}.txt", i)] = text.substr(static_cast<std::size_t>(i) * 997);
    test::write_file(dir / fmt::format("d/doc{}.txt", i), files[fmt::format("d/doc{}.txt", i)]);
  }
  ASSERT_EQ(test::sh("tar cf t.tar d", dir.path()), 0);
  for (const char* size : {"7919", "65536", "1000003"}) {
    SCOPED_TRACE(size);
    ASSERT_EQ(test::sh(fmt::format("rm -f part.* && split -b {} t.tar part. && for p in part.*; do "
                                   "gzip -c $p; done > m.tgz && gzip -t m.tgz",
                                   size),
                       dir.path()),
              0);
    auto data = test::read_file(dir / "m.tgz");
    std::vector<std::byte> bytes(data.size());
    std::memcpy(bytes.data(), data.data(), data.size());
    auto reader = ArchiveReader::open(memory_source(bytes));
    ASSERT_TRUE(reader) << reader.error().message;
    auto all = read_all(*reader);
    ASSERT_FALSE(all.fatal) << all.fatal->message;
    ASSERT_TRUE(reader->drain());
    EXPECT_TRUE(reader->stream_notes().empty());
    std::size_t compared = 0;
    for (const auto& e : all.entries) {
      EXPECT_FALSE(e.data_error) << e.path;
      if (!files.count(e.path)) continue;
      EXPECT_EQ(e.data, files[e.path]) << e.path;
      ++compared;
    }
    EXPECT_EQ(compared, files.size());
    // The last member's CRC-32, then an earlier member's: each is checked on its own.
    for (std::size_t back : {8u, 0u}) {
      auto broken = bytes;
      std::size_t at = back ? broken.size() - back : broken.size() / 2;
      if (!back) {
        // the CRC-32 of the member ending nearest the middle: found by its successor's magic
        for (std::size_t i = at; i + 3 < broken.size(); ++i) {
          if (broken[i] == std::byte{0x1f} && broken[i + 1] == std::byte{0x8b} &&
              broken[i + 2] == std::byte{8} && i >= 8) {
            at = i - 8;
            break;
          }
        }
      }
      broken[at] ^= std::byte{0x01};
      EXPECT_TRUE(anything_reported(broken)) << "flipped byte at " << at;
    }
  }
}

// What a reader made of an archive: every entry's bytes, and the first error's code.
// `small_reads`: the archive comes 1,000 bytes a read instead of memory's 1 MiB.
std::string outcome_of(std::unique_ptr<ByteSource> source, Prefetch prefetch) {
  ReaderOptions options;
  options.prefetch = prefetch;
  auto reader = ArchiveReader::open(std::move(source), options);
  if (!reader) return " error: " + std::to_string(static_cast<int>(reader.error().code));
  auto all = read_all(*reader);
  std::string out;
  for (const auto& e : all.entries) {
    out += e.path + "=" + std::to_string(std::hash<std::string>{}(e.data)) + ";";
    if (e.data_error)
      return out + " error: " + std::to_string(static_cast<int>(e.data_error->code));
  }
  if (all.fatal) return out + " error: " + std::to_string(static_cast<int>(all.fatal->code));
  if (auto drained = reader->drain(); !drained) {
    return out + " error: " + std::to_string(static_cast<int>(drained.error().code));
  }
  return out;
}

std::string outcome(const std::vector<std::byte>& bytes, Prefetch prefetch,
                    bool small_reads = false) {
  return outcome_of(small_reads ? std::make_unique<FailingSource>(bytes, 0) : memory_source(bytes),
                    prefetch);
}

// The same read from a file (read(2) and pread(2) at once: whole frames are read straight into
// their buffers at their offsets).
std::string outcome_from_file(const std::vector<std::byte>& bytes,
                              const std::filesystem::path& file) {
  test::write_file(file,
                   std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  auto source = open_file_source(file);
  if (!source) return " error: " + std::to_string(static_cast<int>(source.error().code));
  return outcome_of(std::move(*source), Prefetch::kYes);
}

// dir/d tarred by tar, cut into parts of `part_bytes` and each part compressed by stock zstd
// with its content size: independent frames, as our backups and pzstd write them. Empty when a
// tool failed.
std::vector<std::byte> zstd_frames_of_folder(const ScratchDir& dir, std::size_t part_bytes) {
  if (test::sh(fmt::format("tar cf t.tar d && split -b {} t.tar part. && for p in part.*; do "
                           "zstd -q -c --content-size $p; done > m.tar.zst && zstd -t -q m.tar.zst",
                           part_bytes),
               dir.path()) != 0) {
    return {};
  }
  auto data = test::read_file(dir / "m.tar.zst");
  std::vector<std::byte> bytes(data.size());
  std::memcpy(bytes.data(), data.data(), data.size());
  return bytes;
}

// Independent zstd frames with their content sizes (stock zstd on split parts, as our backups
// and pzstd write them) decode several at once when the whole stream is read (Prefetch::kYes)
// and one at a time otherwise: both paths must see the same bytes and the same damage.
TEST(ArchiveReader, MultiFrameZstdDecodesInParallelExactlyAsWhenStreamed) {
  RK_REQUIRE_TOOL("tar");
  RK_REQUIRE_TOOL("zstd");
  RK_REQUIRE_TOOL("split");
  ScratchDir dir;
  std::string text;
  for (int i = 0; i < 60000; ++i) text += "row " + std::to_string(i * 7919 % 100003) + "\n";
  for (int i = 0; i < 5; ++i) {
    test::write_file(dir / fmt::format("d/doc{}.txt", i),
                     text.substr(static_cast<std::size_t>(i) * 997));
  }
  // Bytes that do not compress: the stream outgrows the input's first chunk (1 MiB), after
  // which the frames are gathered by reads at their offsets where the input allows them.
  test::write_file(dir / "d/noise.bin", test::noise(2'500'000, 672));
  auto bytes = zstd_frames_of_folder(dir, 300000);
  ASSERT_FALSE(bytes.empty());
  ASSERT_GT(bytes.size(), std::size_t{2} << 20);
  auto streamed = outcome(bytes, Prefetch::kNo);
  ASSERT_EQ(streamed.find("error"), std::string::npos) << streamed;
  // Frames gathered by reads at their offsets (memory, a file) and through the input's chunks
  // (a source that cannot read in place, 1,000 bytes a read).
  EXPECT_EQ(outcome(bytes, Prefetch::kYes), streamed);
  EXPECT_EQ(outcome_from_file(bytes, dir / "f.tar.zst"), streamed);
  EXPECT_EQ(outcome(bytes, Prefetch::kYes, /*small_reads=*/true), streamed);
  std::size_t frames = 0;
  for (std::size_t i = 0; i + 4 <= bytes.size(); ++i) {
    if (bytes[i] == std::byte{0x28} && bytes[i + 1] == std::byte{0xb5} &&
        bytes[i + 2] == std::byte{0x2f} && bytes[i + 3] == std::byte{0xfd}) {
      ++frames;
    }
  }
  EXPECT_GE(frames, 5u);
  // Damage anywhere (frame headers, blocks, checksums) and cuts: the same verdict both ways.
  for (std::size_t step = bytes.size() / 97, at = 3; at < bytes.size(); at += step) {
    auto broken = bytes;
    broken[at] ^= std::byte{0x20};
    // A flip may land where the decoders cannot see it (a frame's unused header bits): then
    // both must read the same bytes; else both must fail with the same kind of error.
    auto parallel = outcome(broken, Prefetch::kYes);
    auto one_by_one = outcome(broken, Prefetch::kNo);
    auto verdict = [](const std::string& o) {
      auto p = o.find(" error: ");
      return p == std::string::npos ? o : o.substr(p);
    };
    EXPECT_EQ(verdict(parallel), verdict(one_by_one)) << "flip at " << at;
    EXPECT_EQ(outcome_from_file(broken, dir / "f.tar.zst"), parallel) << "flip at " << at;
    EXPECT_EQ(outcome(broken, Prefetch::kYes, true), parallel) << "flip at " << at;
    EXPECT_NE(parallel, streamed) << "flip at " << at << " went unnoticed";
    auto cut =
        std::vector<std::byte>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(at));
    auto cut_parallel = outcome(cut, Prefetch::kYes);
    EXPECT_NE(cut_parallel.find("error"), std::string::npos) << "cut at " << at;
    EXPECT_EQ(outcome_from_file(cut, dir / "f.tar.zst"), cut_parallel) << "cut at " << at;
    EXPECT_EQ(outcome(cut, Prefetch::kYes, true), cut_parallel) << "cut at " << at;
  }
}

// The frame workers gather and decode ahead of the reader: a reader dropped after any number of
// entries (a caller that stops early) must end them cleanly, with frames still in flight.
TEST(ArchiveReader, AMultiFrameReaderDroppedMidStreamEndsItsWorkers) {
  RK_REQUIRE_TOOL("tar");
  RK_REQUIRE_TOOL("zstd");
  RK_REQUIRE_TOOL("split");
  ScratchDir dir;
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "row " + std::to_string(i * 7919 % 100003) + "\n";
  for (int i = 0; i < 12; ++i) test::write_file(dir / fmt::format("d/doc{}.txt", i), text);
  auto bytes = zstd_frames_of_folder(dir, 100000);
  ASSERT_FALSE(bytes.empty());
  for (int stop_after = 0; stop_after < 12; ++stop_after) {
    ReaderOptions options;
    options.prefetch = Prefetch::kYes;
    auto reader = ArchiveReader::open(memory_source(bytes), options);
    ASSERT_TRUE(reader) << reader.error().message;
    for (int i = 0; i < stop_after; ++i) {
      auto entry = reader->next();
      ASSERT_TRUE(entry) << entry.error().message;
      ASSERT_NE(*entry, nullptr);
    }
  }  // a hang, a crash or a sanitizer report here is the failure
}

// A frame whose blocks cannot even be walked (a reserved block type) is not decoded whole: all
// its bytes, those gathered for it included, go to the streaming decoder, which must report the
// damage exactly as it does when the stream is read one frame at a time.
TEST(ArchiveReader, AFrameThatCannotBeGatheredStreamsFromItsFirstByte) {
  RK_REQUIRE_TOOL("tar");
  RK_REQUIRE_TOOL("zstd");
  RK_REQUIRE_TOOL("split");
  ScratchDir dir;
  std::string part;
  for (int i = 0; i < 40000; ++i) part += "line " + std::to_string(i * 7919 % 100003) + "\n";
  test::write_file(dir / "d/a.txt", part);
  test::write_file(dir / "d/b.txt", part + part);
  auto bytes = zstd_frames_of_folder(dir, 200000);
  ASSERT_FALSE(bytes.empty());
  // The third frame's first block header gets the reserved block type.
  std::size_t at = 0;
  for (int frame = 0; frame < 2; ++frame) {
    std::size_t size = ZSTD_findFrameCompressedSize(bytes.data() + at, bytes.size() - at);
    ASSERT_FALSE(ZSTD_isError(size));
    at += size;
  }
  // RFC 8878 3.1.1.1: magic, descriptor, window byte unless single-segment, dictionary ID,
  // content size.
  auto fhd = std::to_integer<unsigned>(bytes[at + 4]);
  bool single = (fhd >> 5) & 1;
  std::size_t header = 5 + (single ? 0 : 1) + std::array<std::size_t, 4>{0, 1, 2, 4}[fhd & 3] +
                       std::array<std::size_t, 4>{single ? 1u : 0u, 2, 4, 8}[fhd >> 6];
  bytes[at + header] |= std::byte{0x06};
  ASSERT_TRUE(ZSTD_isError(ZSTD_findFrameCompressedSize(bytes.data() + at, bytes.size() - at)));
  auto message = [&](Prefetch prefetch) {
    ReaderOptions options;
    options.prefetch = prefetch;
    auto reader = ArchiveReader::open(memory_source(bytes), options);
    if (!reader) return reader.error().message;
    auto all = read_all(*reader);
    for (const auto& e : all.entries) {
      if (e.data_error) return e.path + ": " + e.data_error->message;
    }
    return all.fatal ? all.fatal->message : std::string("no error");
  };
  auto streamed = message(Prefetch::kNo);
  // Named where the damaged frame starts or at its bad block, never past it.
  auto pos = streamed.find("compressed byte ");
  ASSERT_NE(pos, std::string::npos) << streamed;
  auto offset = std::stoull(streamed.substr(pos + 16));
  EXPECT_GE(offset, at) << streamed;
  EXPECT_LE(offset, at + header + 3) << streamed;
  EXPECT_EQ(message(Prefetch::kYes), streamed);
}

// Streamed zstd frames (no content size: stock zstd reading a pipe, as tar --zstd and bsdtar
// write) are decoded ahead by one thread when the whole stream is read: exactly the bytes that
// reading them on the caller's thread gives, across frames whose windows grow, a skippable frame
// and a frame without a checksum; damage and cuts give the same verdict, and a window past the
// limit is refused both ways.
TEST(ArchiveReader, StreamedZstdFramesDecodedAheadGiveWhatReadingThemInPlaceGives) {
  RK_REQUIRE_TOOL("tar");
  RK_REQUIRE_TOOL("zstd");
  RK_REQUIRE_TOOL("split");
  ScratchDir dir;
  std::string rows;
  for (std::int64_t i = 0; i < 40000; ++i) {
    rows += fmt::format("{} customer {} ordered {} units at {}\n", i, i * 7919 % 100003,
                        i * 31 % 977, i * 104729 % 1000003);
  }
  for (int i = 0; i < 4; ++i) {
    test::write_file(dir / fmt::format("d/doc{}.txt", i),
                     rows.substr(static_cast<std::size_t>(i) * 9973));
  }
  ASSERT_EQ(test::sh("tar cf t.tar d && split -b 1000000 t.tar part. && "
                     "zstd -q -c --zstd=wlog=17 < part.aa > mixed.zst && "
                     "printf '\\120\\052\\115\\030\\004\\000\\000\\000skip' >> mixed.zst && "
                     "zstd -q -c --long=23 < part.ab >> mixed.zst && "
                     "zstd -q -c --no-check < part.ac >> mixed.zst && "
                     "zstd -q -c --long=28 < t.tar > huge-window.zst && zstd -t -q mixed.zst",
                     dir.path()),
            0);
  auto load = [&](const char* name) {
    auto data = test::read_file(dir / name);
    std::vector<std::byte> bytes(data.size());
    std::memcpy(bytes.data(), data.data(), data.size());
    return bytes;
  };
  // mixed.zst decodes to the first three parts of the tar, which end inside an entry.
  auto mixed = load("mixed.zst");
  auto streamed = outcome(mixed, Prefetch::kNo);
  EXPECT_EQ(outcome(mixed, Prefetch::kYes), streamed);
  EXPECT_GE(std::count(streamed.begin(), streamed.end(), ';'), 1) << streamed;
  auto verdict = [](const std::string& o) {
    auto p = o.find(" error: ");
    return p == std::string::npos ? o : o.substr(p);
  };
  for (std::size_t step = mixed.size() / 23, at = 1; at < mixed.size(); at += step) {
    auto broken = mixed;
    broken[at] ^= std::byte{0x20};
    EXPECT_EQ(verdict(outcome(broken, Prefetch::kYes)), verdict(outcome(broken, Prefetch::kNo)))
        << "flip at " << at;
    auto cut =
        std::vector<std::byte>(mixed.begin(), mixed.begin() + static_cast<std::ptrdiff_t>(at));
    EXPECT_EQ(verdict(outcome(cut, Prefetch::kYes)), verdict(outcome(cut, Prefetch::kNo)))
        << "cut at " << at;
  }
  auto huge = load("huge-window.zst");
  auto refused = outcome(huge, Prefetch::kYes);
  EXPECT_NE(refused.find(" error: "), std::string::npos) << refused;
  EXPECT_EQ(refused, outcome(huge, Prefetch::kNo));
}

// Streamed frames whose window fits a slot of the decoding thread are decoded block by block
// straight into the slots, the slot before holding the rest of the window. Stock zstd's frames
// with 1, 2 and 4 MiB windows, whose blocks refer 1.2 and 3 MB back (--long), and so across
// slots, beside frames that stream (an 8 MiB window, a skippable frame), give what streaming
// them on the caller's thread gives: read in place (memory, a file) and 1,000 bytes a read,
// whole, flipped and cut.
TEST(ArchiveReader, ZstdFramesDecodedIntoTheSlotsGiveWhatStreamingGives) {
  RK_REQUIRE_TOOL("tar");
  RK_REQUIRE_TOOL("zstd");
  RK_REQUIRE_TOOL("split");
  ScratchDir dir;
  for (auto [name, period, copies] :
       {std::tuple{"d/a.bin", 1'200'000, 5}, std::tuple{"d/b.bin", 3'000'000, 3}}) {
    auto piece = test::noise(static_cast<std::size_t>(period), static_cast<std::uint64_t>(period));
    std::string doc;
    for (int i = 0; i < copies; ++i) {
      piece[static_cast<std::size_t>(i) * 4099] ^= 'x';  // each copy differs a little
      doc += piece;
    }
    test::write_file(dir / name, doc);
  }
  test::write_file(dir / "d/z.txt", "the last entry\n");
  ASSERT_EQ(test::sh("tar cf t.tar d && zstd -q -c --long=21 < t.tar > w21.zst && "
                     "zstd -q -c --long=22 < t.tar > w22.zst && split -b 4500000 t.tar part. && "
                     "zstd -q -c --long=21 < part.aa > mixed.zst && "
                     "zstd -q -c --long=23 < part.ab >> mixed.zst && "
                     "printf '\\120\\052\\115\\030\\004\\000\\000\\000skip' >> mixed.zst && "
                     "zstd -q -c --zstd=wlog=20 < part.ac >> mixed.zst && "
                     "zstd -q -c < part.ad >> mixed.zst && zstd -t -q mixed.zst",
                     dir.path()),
            0);
  auto tar_size = std::filesystem::file_size(dir / "t.tar");
  // The copies were found (the noise itself does not compress): blocks refer 1.2 MB back, and
  // 3 MB with the 4 MiB window.
  EXPECT_LT(std::filesystem::file_size(dir / "w21.zst"), tar_size - 3'000'000);
  EXPECT_LT(std::filesystem::file_size(dir / "w22.zst"), tar_size - 8'000'000);
  auto verdict = [](const std::string& o) {
    auto p = o.find(" error: ");
    return p == std::string::npos ? o : o.substr(p);
  };
  for (const char* name : {"w21.zst", "w22.zst", "mixed.zst"}) {
    SCOPED_TRACE(name);
    auto data = test::read_file(dir / name);
    std::vector<std::byte> bytes(data.size());
    std::memcpy(bytes.data(), data.data(), data.size());
    auto streamed = outcome(bytes, Prefetch::kNo);
    EXPECT_EQ(std::count(streamed.begin(), streamed.end(), ';'), 4) << streamed;  // d/ and 3
    EXPECT_EQ(streamed.find(" error: "), std::string::npos) << streamed;
    EXPECT_EQ(outcome(bytes, Prefetch::kYes), streamed);
    EXPECT_EQ(outcome_from_file(bytes, dir / "f.tar.zst"), streamed);
    EXPECT_EQ(outcome(bytes, Prefetch::kYes, /*small_reads=*/true), streamed);
    for (std::size_t step = bytes.size() / 7, at = bytes.size() / 11; at < bytes.size();
         at += step) {
      auto broken = bytes;
      broken[at] ^= std::byte{0x20};
      auto one_by_one = outcome(broken, Prefetch::kNo);
      EXPECT_NE(one_by_one, streamed) << "flip at " << at << " went unnoticed";
      EXPECT_EQ(verdict(outcome(broken, Prefetch::kYes)), verdict(one_by_one)) << "flip at " << at;
      EXPECT_EQ(verdict(outcome(broken, Prefetch::kYes, true)), verdict(one_by_one))
          << "flip at " << at;
      auto cut =
          std::vector<std::byte>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(at));
      EXPECT_EQ(verdict(outcome(cut, Prefetch::kYes)), verdict(outcome(cut, Prefetch::kNo)))
          << "cut at " << at;
    }
  }
}

// gzip and xz streams made by the stock tools, read 1,000 bytes at a time (so that the reading
// thread cycles through its buffers hundreds of times): read ahead, decoded on another thread,
// they give what reading them in place gives, whole, flipped or cut anywhere.
TEST(ArchiveReader, StreamsReadAheadGiveWhatReadingThemInPlaceGives) {
  RK_REQUIRE_TOOL("tar");
  RK_REQUIRE_TOOL("gzip");
  RK_REQUIRE_TOOL("xz");
  ScratchDir dir;
  std::string rows;
  std::uint64_t state = 7;
  for (std::int64_t i = 0; i < 10000; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    rows += fmt::format("{} note {:x} filed by {}\n", i, state >> 20, i * 31 % 977);
  }
  for (int i = 0; i < 3; ++i) {
    test::write_file(dir / fmt::format("d/doc{}.txt", i),
                     rows.substr(static_cast<std::size_t>(i) * 9973));
  }
  ASSERT_EQ(test::sh("tar cf t.tar d && gzip -c -1 t.tar > t.tar.gz && xz -c -0 -T1 t.tar > "
                     "t.tar.xz",
                     dir.path()),
            0);
  for (const char* name : {"t.tar.gz", "t.tar.xz"}) {
    SCOPED_TRACE(name);
    auto data = test::read_file(dir / name);
    std::vector<std::byte> bytes(data.size());
    std::memcpy(bytes.data(), data.data(), data.size());
    ASSERT_GT(bytes.size(), std::size_t{200} << 10);
    auto whole = outcome(bytes, Prefetch::kNo, true);
    EXPECT_EQ(std::count(whole.begin(), whole.end(), ';'), 4) << whole;  // d/ and three files
    EXPECT_EQ(whole.find(" error: "), std::string::npos) << whole;
    EXPECT_EQ(outcome(bytes, Prefetch::kYes, true), whole);
    for (std::size_t step = bytes.size() / 13, at = 1; at < bytes.size(); at += step) {
      auto broken = bytes;
      broken[at] ^= std::byte{0x20};
      EXPECT_EQ(outcome(broken, Prefetch::kYes, true), outcome(broken, Prefetch::kNo, true))
          << "flip at " << at;
      auto cut =
          std::vector<std::byte>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(at));
      EXPECT_EQ(outcome(cut, Prefetch::kYes, true), outcome(cut, Prefetch::kNo, true))
          << "cut at " << at;
    }
  }
}

// A source of the public API may hand out more at once than a chunk read ahead holds (2 MiB):
// the rest of its read goes into the next chunks. Stock gzip and xz streams of 5 MiB of noise,
// each read in one piece, give what reading them in place gives, whole and flipped.
TEST(ArchiveReader, AReadLargerThanAReadAheadChunkIsSplitAcrossChunks) {
  RK_REQUIRE_TOOL("tar");
  RK_REQUIRE_TOOL("gzip");
  RK_REQUIRE_TOOL("xz");
  ScratchDir dir;
  std::string noise(std::size_t{5} << 20, '\0');
  std::uint64_t state = 11;
  for (char& c : noise) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    c = static_cast<char>(state >> 56);
  }
  test::write_file(dir / "d/noise.bin", noise);
  test::write_file(dir / "d/after.txt", "the entry after the noise\n");
  ASSERT_EQ(test::sh("tar cf t.tar d && gzip -c -1 t.tar > t.tar.gz && xz -c -0 -T1 t.tar > "
                     "t.tar.xz",
                     dir.path()),
            0);
  constexpr std::size_t kWhole = std::numeric_limits<std::size_t>::max();
  auto read_whole = [&](const std::vector<std::byte>& bytes, Prefetch prefetch) {
    return outcome_of(std::make_unique<FailingSource>(bytes, 0, kWhole), prefetch);
  };
  for (const char* name : {"t.tar.gz", "t.tar.xz"}) {
    SCOPED_TRACE(name);
    auto data = test::read_file(dir / name);
    std::vector<std::byte> bytes(data.size());
    std::memcpy(bytes.data(), data.data(), data.size());
    ASSERT_GT(bytes.size(), std::size_t{4} << 20);  // more than two chunks
    auto whole = outcome(bytes, Prefetch::kNo);
    EXPECT_EQ(std::count(whole.begin(), whole.end(), ';'), 3) << whole;  // d/ and two files
    EXPECT_EQ(whole.find(" error: "), std::string::npos) << whole;
    EXPECT_EQ(read_whole(bytes, Prefetch::kYes), whole);
    // Flipped: the same entries and the same error. How much of the damaged entry came out
    // before the error depends on where each decoding call stopped, so its bytes are not compared.
    auto damage = [](std::string o) {
      auto error = o.find(" error: ");
      auto semi = o.rfind(';', error);
      auto eq = o.rfind('=', semi);
      if (error != std::string::npos && semi != std::string::npos && eq != std::string::npos) {
        o = o.substr(0, eq + 1) + "*" + o.substr(semi);
      }
      return o;
    };
    for (std::size_t at : {bytes.size() / 3, bytes.size() - 100}) {
      auto broken = bytes;
      broken[at] ^= std::byte{0x20};
      auto read_ahead = read_whole(broken, Prefetch::kYes);
      EXPECT_NE(read_ahead.find(" error: "), std::string::npos) << "flip at " << at;
      EXPECT_EQ(damage(read_ahead), damage(outcome(broken, Prefetch::kNo))) << "flip at " << at;
    }
  }
}

TEST(ArchiveReader, GzipTrailerMismatchIsACrcError) {
  auto bytes = test::make_archive(ArchiveKind::kTarGz, {{"a.txt", std::string(5000, 'x')}});
  bytes[bytes.size() - 6] ^= std::byte{0x01};  // inside the CRC-32 of the trailer
  auto reader = ArchiveReader::open(memory_source(bytes));
  std::optional<Error> err;  // a small stream is decoded whole by the first read, in open()
  if (!reader) {
    err = reader.error();
  } else {
    auto all = read_all(*reader);
    err = all.fatal;
    if (!err && !reader->drain()) err = reader->drain().error();
  }
  ASSERT_TRUE(err);
  EXPECT_EQ(err->code, ErrorCode::kCrcError) << err->message;
}

TEST(ArchiveReader, ZstdWithoutChecksumsIsNoted) {
  RK_REQUIRE_TOOL("bsdtar");
  ScratchDir dir;
  test::write_file(dir / "d/a.txt", "x");
  // libarchive's own zstd filter writes frames without checksums.
  ASSERT_EQ(test::sh("bsdtar --zstd -cf t.tar.zst d && tar --zstd -cf gnu.tar.zst d", dir.path()),
            0);
  auto plain = ArchiveReader::open(dir / "t.tar.zst");
  ASSERT_TRUE(plain);
  read_all(*plain);
  ASSERT_EQ(plain->stream_notes().size(), 1u);
  EXPECT_EQ(plain->stream_notes()[0].code, "ZSTD_NO_CHECKSUM");
  auto checked = ArchiveReader::open(dir / "gnu.tar.zst");
  ASSERT_TRUE(checked);
  read_all(*checked);
  EXPECT_TRUE(checked->stream_notes().empty());
}

TEST(ArchiveReader, ReadsUtf8NamesFromInfoZip) {
  RK_REQUIRE_TOOL("zip");
  ScratchDir dir;
  test::write_file(dir / "in/Müller_報告.txt", "x");
  ASSERT_EQ(test::sh("zip -qr names.zip in", dir.path()), 0);
  auto reader = ArchiveReader::open(dir / "names.zip");
  ASSERT_TRUE(reader);
  auto all = read_all(*reader);
  bool found = false;
  for (const auto& e : all.entries) found = found || e.path == "in/Müller_報告.txt";
  EXPECT_TRUE(found);
}

TEST(ArchiveReader, SkippingEntriesStillReachesTheEnd) {
  auto bytes =
      test::make_archive(ArchiveKind::kTarZst, {{"a", std::string(100000, 'a')}, {"b", "bee"}});
  auto reader = ArchiveReader::open(memory_source(bytes));
  ASSERT_TRUE(reader);
  auto first = reader->next();
  ASSERT_TRUE(first && *first);
  ASSERT_TRUE(reader->skip());
  auto second = reader->next();
  ASSERT_TRUE(second && *second);
  EXPECT_EQ((*second)->path, "b");
  auto end = reader->next();
  ASSERT_TRUE(end);
  EXPECT_EQ(*end, nullptr);
}

TEST(ArchiveReader, ReadsEveryPeerFormat) {
  RK_REQUIRE_TOOL("bsdtar");
  RK_REQUIRE_TOOL("7z");
  ScratchDir dir;
  test::write_file(dir / "in/a.txt", "alpha");
  ASSERT_EQ(test::sh("bsdtar -czf t.tgz in && bsdtar --zstd -cf t.tzst in && bsdtar -cJf t.txz in"
                     " && bsdtar -cjf t.tbz in && bsdtar --lz4 -cf t.tlz4 in && "
                     "bsdtar --format=cpio -cf t.cpio in && 7z a t.7z in >/dev/null",
                     dir.path()),
            0);
  for (const char* name : {"t.tgz", "t.tzst", "t.txz", "t.tbz", "t.tlz4", "t.cpio", "t.7z"}) {
    auto reader = ArchiveReader::open(dir / name);
    ASSERT_TRUE(reader) << name << ": " << reader.error().message;
    auto all = read_all(*reader);
    ASSERT_FALSE(all.fatal) << name << ": " << all.fatal->message;
    bool found = false;
    for (const auto& e : all.entries) found = found || (e.path == "in/a.txt" && e.data == "alpha");
    EXPECT_TRUE(found) << name;
  }
}

}  // namespace
}  // namespace restorekit::core

namespace restorekit::core {
namespace {

// The locale is the application's: the library never changes it, and says what to do.
TEST(ArchiveReaderLocale, ANonUtf8LocaleIsRefusedWithWhatToDo) {
  std::string before = std::setlocale(LC_CTYPE, nullptr);
  ASSERT_NE(std::setlocale(LC_CTYPE, "C"), nullptr);
  std::vector<std::byte> none;
  auto r = ArchiveReader::open(memory_source(none));
  std::string after = std::setlocale(LC_CTYPE, nullptr);
  std::setlocale(LC_CTYPE, before.c_str());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("ensure_utf8_locale"), std::string::npos);
  EXPECT_EQ(after, "C") << "the library left the process's locale alone";
}

}  // namespace
}  // namespace restorekit::core

namespace restorekit::core {
namespace {

namespace fs = std::filesystem;

// A zip read whole with restorekit's own inflate on or off, and how many entries it read.
struct ZipRead {
  ReadAll all;
  std::uint64_t own = 0;
};

ZipRead read_zip(const fs::path& zip, bool own) {
  ReaderOptions o;
  o.own_zip_inflate = own;
  auto reader = ArchiveReader::open(zip, o);
  if (!reader) return {ReadAll{{}, reader.error()}, 0};
  auto all = read_all(*reader);
  return {std::move(all), reader->own_zip_entries()};
}

std::string code_of(const std::optional<Error>& e) {
  return e ? std::string(code_name(e->code)) : "none";
}

// Both readings of `zip` agree entry by entry: names, types, problems, whether reading the
// data failed, and the bytes where it did not (what an entry hands out before its error is not
// compared). Where libarchive stops the archive at a damaged deflate stream, restorekit's own
// reading reports that entry and reads on: the entries both read must agree. @return the
// entries restorekit read itself.
std::uint64_t expect_same_reading(const fs::path& zip) {
  SCOPED_TRACE(zip.string());
  auto theirs = read_zip(zip, false);
  auto ours = read_zip(zip, true);
  EXPECT_EQ(theirs.own, 0u);
  if (theirs.all.fatal && !ours.all.fatal) {
    EXPECT_GE(ours.all.entries.size(), theirs.all.entries.size());
  } else {
    EXPECT_EQ(code_of(ours.all.fatal), code_of(theirs.all.fatal));
    EXPECT_EQ(ours.all.entries.size(), theirs.all.entries.size());
  }
  for (std::size_t i = 0; i < std::min(ours.all.entries.size(), theirs.all.entries.size()); ++i) {
    const auto& a = ours.all.entries[i];
    const auto& b = theirs.all.entries[i];
    SCOPED_TRACE(b.path);
    EXPECT_EQ(a.path, b.path);
    EXPECT_EQ(a.type, b.type);
    EXPECT_EQ(code_of(a.problem), code_of(b.problem));
    // Where libarchive stopped inside this entry, restorekit reports the entry's damage (or
    // stopped at the same header); elsewhere both agree.
    bool stopped_here = theirs.all.fatal && i + 1 == theirs.all.entries.size();
    if (!stopped_here) {
      EXPECT_EQ(a.data_error.has_value(), b.data_error.has_value())
          << code_of(a.data_error) << " vs " << code_of(b.data_error);
    }
    if (!a.data_error && !b.data_error) {
      EXPECT_EQ(a.data.size(), b.data.size());
      EXPECT_TRUE(a.data == b.data);
    }
  }
  return ours.own;
}

// restorekit's own zip reading (ISA-L inflate, CRC-32 and sizes against the central directory)
// against libarchive's, on zips from every stock writer at hand and the corpus's zips.
TEST(ArchiveReaderOwnZip, ReadsExactlyWhatLibarchiveReads) {
  RK_REQUIRE_TOOL("zip");
  RK_REQUIRE_TOOL("python3");
  ScratchDir dir;
  std::string text;
  for (int i = 0; i < 60000; ++i) text += fmt::format("line {} of a compressible document\n", i);
  test::write_file(dir / "tree/big.txt", text);  // several 256 KiB pieces each way
  test::write_file(dir / "tree/noise.bin", test::noise(300000, 7));
  test::write_file(dir / "tree/empty.txt", "");
  test::write_file(dir / "tree/sub/small.txt", "small\n");
  test::write_file(dir / "tree/sub/deeper/Müller.txt", "unicode name\n");
  fs::create_symlink("sub/small.txt", dir / "tree/link");
  std::vector<std::string> made = {
      "zip -qr -9 deflated.zip tree",
      "zip -qr -0 stored.zip tree",
      "zip -qry links.zip tree",
      "zip -qr -fd descriptors.zip tree",
      "cd tree && zip -qr - . > ../streamed.zip",
      "python3 -c \"import zipfile, os\n"
      "for name, method in (('py-deflated.zip', zipfile.ZIP_DEFLATED), ('py-stored.zip', "
      "zipfile.ZIP_STORED)):\n"
      "  with zipfile.ZipFile(name, 'w', method) as z:\n"
      "    for root, _, files in os.walk('tree'):\n"
      "      for f in files: z.write(os.path.join(root, f))\"",
  };
  if (test::have_tool("bsdtar")) made.push_back("bsdtar --format zip -cf bsdtar.zip tree");
  if (test::have_tool("7z")) made.push_back("7z a -tzip -bso0 -bsp0 7z.zip tree");
  for (const auto& cmd : made) ASSERT_EQ(test::sh(cmd, dir.path()), 0) << cmd;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    if (e.path().extension() != ".zip") continue;
    EXPECT_GT(expect_same_reading(e.path()), 0u) << e.path() << ": restorekit read no entry itself";
  }
  auto corpus = test::corpus_dir();
  if (!corpus) GTEST_SKIP() << "SKIPPED (corpus part): corpus not found (set RESTOREKIT_CORPUS)";
  int zips = 0;
  for (const auto& e : fs::directory_iterator(*corpus / "libarchive")) {
    if (e.path().extension() != ".zip") continue;
    (void)expect_same_reading(e.path());
    ++zips;
  }
  EXPECT_GT(zips, 5);
}

// A source that counts the reads at an offset it passes on (restorekit's own zip reading and
// the directory cursor read that way).
class CountingReadsAt final : public ByteSource {
 public:
  CountingReadsAt(std::unique_ptr<ByteSource> inner, std::size_t& reads)
      : inner_(std::move(inner)), reads_(reads) {}
  Result<std::span<const std::byte>> read() override { return inner_->read(); }
  Result<std::uint64_t> seek(std::int64_t offset, int whence) override {
    return inner_->seek(offset, whence);
  }
  Result<std::size_t> read_at(std::uint64_t offset, std::span<std::byte> out) override {
    ++reads_;
    return inner_->read_at(offset, out);
  }
  [[nodiscard]] bool reads_at_in_place() const override { return inner_->reads_at_in_place(); }
  [[nodiscard]] bool seekable() const override { return inner_->seekable(); }
  [[nodiscard]] std::optional<std::uint64_t> size() const override { return inner_->size(); }
  [[nodiscard]] std::string name() const override { return inner_->name(); }

 private:
  std::unique_ptr<ByteSource> inner_;
  std::size_t& reads_;
};

// A zip of many small entries (Info-ZIP) read by restorekit itself: their local headers and
// data come a 64 KiB piece at a time, not two reads an entry, and read what libarchive reads.
TEST(ArchiveReaderOwnZip, SmallEntriesAreReadAPieceAtATime) {
  RK_REQUIRE_TOOL("zip");
  ScratchDir dir;
  constexpr std::size_t kFiles = 3000;
  for (std::size_t i = 0; i < kFiles; ++i) {
    test::write_file(dir / fmt::format("many/f{:02}/note-{:04}.txt", i % 30, i),
                     fmt::format("note {} ", i) + std::string(i % 300, 'n'));
  }
  ASSERT_EQ(test::sh("zip -qr many.zip many", dir.path()), 0);
  expect_same_reading(dir / "many.zip");
  auto bytes = test::read_file(dir / "many.zip");
  std::size_t reads = 0;
  ReaderOptions o;
  o.own_zip_inflate = true;
  auto reader = ArchiveReader::open(
      std::make_unique<CountingReadsAt>(memory_source(std::as_bytes(std::span(bytes))), reads), o);
  ASSERT_TRUE(reader) << reader.error().message;
  auto all = read_all(*reader);
  EXPECT_FALSE(all.fatal);
  EXPECT_EQ(reader->own_zip_entries(), kFiles);
  // The directory cursor's walk, the local headers and data, and libarchive's own reads of
  // the directory: a few reads per 64 KiB.
  EXPECT_LT(reads, 4 * (bytes.size() >> 16) + 40) << "reads of " << bytes.size() << " bytes";
}

// Damage inside an entry's data is found by both readings, on the same entry, and the entries
// after it read on.
TEST(ArchiveReaderOwnZip, DamageInsideAnEntryIsFoundByBothReadings) {
  RK_REQUIRE_TOOL("zip");
  ScratchDir dir;
  std::string text;
  for (int i = 0; i < 20000; ++i) text += fmt::format("row {} of the first file\n", i);
  test::write_file(dir / "t/a.txt", text);
  test::write_file(dir / "t/b.txt", "the second file\n");
  for (const char* level : {"-9", "-0"}) {
    auto zip = dir / fmt::format("z{}.zip", level);
    ASSERT_EQ(
        test::sh(fmt::format("zip -q {} {} t/a.txt t/b.txt", level, zip.string()), dir.path()), 0);
    auto bytes = test::read_file(zip);
    auto at = bytes.find("t/a.txt") + 7 + 2000;  // inside a.txt's data
    bytes[at] = static_cast<char>(bytes[at] ^ 0x55);
    test::write_file(zip, bytes);
    (void)expect_same_reading(zip);
    auto ours = read_zip(zip, true);
    ASSERT_EQ(ours.all.entries.size(), 2u);
    ASSERT_TRUE(ours.all.entries[0].data_error) << level;
    if (std::string(level) == "-0") {
      EXPECT_EQ(ours.all.entries[0].data_error->code, ErrorCode::kCrcError);
    }
    EXPECT_FALSE(ours.all.entries[1].data_error);
    EXPECT_EQ(ours.all.entries[1].data, "the second file\n");
  }
}

}  // namespace
}  // namespace restorekit::core
