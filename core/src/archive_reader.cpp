#include <restorekit/core/archive_reader.hpp>

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <clocale>
#include <cstring>
#include <mutex>

#include <fmt/format.h>

#include <restorekit/core/zip_directory.hpp>

#include "decoding_source.hpp"
#include "libarchive_entry.hpp"
#include "own_zip.hpp"
#include "zip_windows.hpp"

namespace restorekit::core {

namespace {

// Random reads of a file or memory source (ByteSource::reads_at_in_place), which must outlive
// the function.
ReadAt reads_of(ByteSource* file) {
  return [file](std::uint64_t at, std::span<std::byte> out) { return file->read_at(at, out); };
}

// Records in each window of the zip `file` (ReaderOptions::zip_window_entries): with several
// parts, the end record's count split into windows of equal size, the same number for each part,
// so that the parts' work is even.
Result<std::size_t> window_entries(ByteSource* file, const ReaderOptions& o) {
  std::uint64_t most = o.zip_window_entries;
  if (o.zip_window_parts <= 1 || most == 0) return static_cast<std::size_t>(most);
  RK_TRY_ASSIGN(auto listed, zip_listed_entries(reads_of(file), *file->size()));
  if (!listed || *listed == 0) return static_cast<std::size_t>(most);
  auto ceil_div = [](std::uint64_t a, std::uint64_t b) { return a / b + (a % b != 0); };
  std::uint64_t per_part = ceil_div(*listed, o.zip_window_parts);  // any count an end record says
  return static_cast<std::size_t>(ceil_div(per_part, ceil_div(per_part, most)));
}

}  // namespace

struct Passwords::Answers {
  std::mutex mutex;
  std::vector<std::optional<std::string>> given;
  bool proving_done = false;
  std::optional<std::string> proven;
};

std::shared_ptr<Passwords::Answers> Passwords::make_answers() {
  return std::make_shared<Answers>();
}

std::optional<std::string> Passwords::prompted(std::size_t index) const {
  std::lock_guard lock(answers_->mutex);  // held while asking: the other readers wait
  while (answers_->given.size() <= index) {
    if (!answers_->given.empty() && !answers_->given.back()) return std::nullopt;  // gave up
    answers_->given.push_back(prompt ? prompt() : std::nullopt);
  }
  return answers_->given[index];
}

std::optional<std::string> Passwords::proven() const {
  std::lock_guard lock(answers_->mutex);
  return answers_->proven;
}

void Passwords::prove_once(const std::function<std::optional<std::string>()>& prove) const {
  std::lock_guard lock(answers_->mutex);  // held while proving: the other readers wait
  if (answers_->proving_done) return;
  answers_->proving_done = true;
  answers_->proven = prove();
}

std::string_view entry_type_name(EntryType type) {
  switch (type) {
    case EntryType::kFile: return "file";
    case EntryType::kDirectory: return "directory";
    case EntryType::kSymlink: return "symlink";
    case EntryType::kHardlink: return "hardlink";
    case EntryType::kOther: return "other";
  }
  return "other";
}

bool utf8_locale() {
  const char* current = std::setlocale(LC_CTYPE, nullptr);
  std::string_view cur = current ? current : "";
  return detail::contains_ci(cur, "utf-8") || detail::contains_ci(cur, "utf8");
}

Result<void> require_utf8_locale() {
  if (utf8_locale()) return {};
  return fail(ErrorCode::kInvalidArgument,
              "archive names are read and written as UTF-8, but LC_CTYPE is not a UTF-8 locale: "
              "call restorekit::core::ensure_utf8_locale() (or setlocale(LC_CTYPE, \"C.UTF-8\")) "
              "once at start-up");
}

void ensure_utf8_locale() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (utf8_locale()) return;
    if (std::setlocale(LC_CTYPE, "C.UTF-8") == nullptr) std::setlocale(LC_CTYPE, "C.utf8");
  });
}

// Replays a peeked first chunk, then reads on from the inner source (for sources that cannot
// seek back after codec detection).
class ReplaySource final : public ByteSource {
 public:
  ReplaySource(std::unique_ptr<ByteSource> inner, std::span<const std::byte> first)
      : inner_(std::move(inner)), first_(first.begin(), first.end()) {}
  Result<std::span<const std::byte>> read() override {
    if (!replayed_) {
      replayed_ = true;
      return std::span<const std::byte>(first_);
    }
    return inner_->read();
  }
  // The head came from offset 0: until it is replayed, the reader stands at 0 while the inner
  // source stands after the head.
  Result<std::uint64_t> seek(std::int64_t offset, int whence) override {
    if (!replayed_ && whence == SEEK_CUR) whence = SEEK_SET;
    replayed_ = true;
    return inner_->seek(offset, whence);
  }
  Result<std::size_t> read_at(std::uint64_t offset, std::span<std::byte> out) override {
    return inner_->read_at(offset, out);
  }
  [[nodiscard]] bool reads_at_in_place() const override { return inner_->reads_at_in_place(); }
  [[nodiscard]] bool seekable() const override { return inner_->seekable(); }
  [[nodiscard]] std::optional<std::uint64_t> size() const override { return inner_->size(); }
  [[nodiscard]] std::string name() const override { return inner_->name(); }

 private:
  std::unique_ptr<ByteSource> inner_;
  std::vector<std::byte> first_;
  bool replayed_ = false;
};

// Counts the raw (compressed) bytes read from the archive, below any decoder: the compression
// ratio limit compares output with this.
class CountingSource final : public ByteSource {
 public:
  CountingSource(std::unique_ptr<ByteSource> inner, std::atomic<std::uint64_t>* counter)
      : inner_(std::move(inner)), counter_(counter) {}
  Result<std::span<const std::byte>> read() override {
    auto chunk = inner_->read();
    if (chunk) *counter_ += chunk->size();
    return chunk;
  }
  Result<std::uint64_t> seek(std::int64_t offset, int whence) override {
    return inner_->seek(offset, whence);
  }
  Result<std::size_t> read_at(std::uint64_t offset, std::span<std::byte> out) override {
    auto n = inner_->read_at(offset, out);
    if (n) *counter_ += *n;
    return n;
  }
  [[nodiscard]] bool reads_at_in_place() const override { return inner_->reads_at_in_place(); }
  [[nodiscard]] bool seekable() const override { return inner_->seekable(); }
  [[nodiscard]] std::optional<std::uint64_t> size() const override { return inner_->size(); }
  [[nodiscard]] std::string name() const override { return inner_->name(); }

 private:
  std::unique_ptr<ByteSource> inner_;
  std::atomic<std::uint64_t>* counter_;
};

// Detects the codec from the first bytes and wraps the source in its decoder.
Result<std::unique_ptr<ByteSource>> with_decoder(std::unique_ptr<ByteSource> source, Codec& codec,
                                                 bool& zip, StreamNotes* notes, Prefetch prefetch) {
  RK_TRY_ASSIGN(auto head, source->read());
  codec = detect_codec(head);
  zip = head.size() >= 4 && head[0] == std::byte{'P'} && head[1] == std::byte{'K'} &&
        ((head[2] == std::byte{3} && head[3] == std::byte{4}) ||
         (head[2] == std::byte{5} && head[3] == std::byte{6}));
  // The sniffed bytes are replayed, never read twice (a seekable source stays seekable).
  source = std::make_unique<ReplaySource>(std::move(source), head);
  return make_decoding_source(std::move(source), codec, notes, prefetch);
}

struct ArchiveReader::Impl {
  // A zip file or memory with a long directory: libarchive reads it a window at a time
  // (zip_windows.hpp), through `source`.
  std::unique_ptr<ZipWindows> windows;
  std::optional<ZipWindowPart> part;  // this reader's windows (ReaderOptions::zip_window_part)
  std::unique_ptr<ByteSource> source;
  // A zip file or memory, read at random beside libarchive (owned by the chain under source).
  ByteSource* zip_file = nullptr;
  // Zip entries restorekit reads itself, where the zip is a file or memory (own_zip.hpp).
  std::unique_ptr<OwnZipReader> own_zip;
  bool own_pending = false;  // the current entry may be read by own_zip (settled at first read)
  bool own_active = false;   // the current entry's data is read by own_zip
  Codec codec = Codec::kNone;
  bool zip = false;  // the first bytes are a zip's
  StreamNotes notes;
  ReaderOptions options;
  archive* handle = nullptr;
  std::string name;

  Entry entry;
  ArchiveInfo info;
  std::optional<Error> fatal;
  std::optional<Error> source_error;  // the last ByteSource failure, reported verbatim
  bool entry_open = false;            // data of the current entry not yet fully read
  bool idle = false;  // a part with no window to read (ReaderOptions::zip_window_part)
  std::uint64_t entries = 0;
  std::atomic<std::uint64_t> raw_read{0};  // written by a prefetching decoder's thread
  std::uint64_t produced = 0;
  std::uint64_t fed = 0;      // bytes handed to libarchive (decoded, for tar.gz/.zst/.xz)
  detail::SparseFill sparse;  // the current entry's holes, read through libarchive
  detail::PasswordFeed passwords{options.passwords};

  ~Impl() {
    if (handle) archive_read_free(handle);
    // A decoder's threads (under `source`) write `notes` and `raw_read`, declared after it and so
    // destroyed before it: they end first. (A frame worker noting a missing checksum while the
    // reader went away pushed into a destroyed vector: LeakSanitizer in fuzz_capi.)
    own_zip.reset();
    source.reset();
  }

  // libarchive's callbacks (`data` is this Impl), defined below the class.
  static la_ssize_t read_cb(archive* a, void* data, const void** buffer);
  static la_int64_t seek_cb(archive* a, void* data, la_int64_t offset, int whence);
  static la_int64_t skip_cb(archive*, void* data, la_int64_t request);
  static const char* passphrase_cb(archive*, void* data);

  Result<void> start() {
    handle = archive_read_new();
    if (!handle) return fail(ErrorCode::kInternal, "libarchive could not allocate a reader");
    for (auto fn : {archive_read_support_filter_gzip, archive_read_support_filter_bzip2,
                    archive_read_support_filter_xz, archive_read_support_filter_zstd,
                    archive_read_support_filter_lz4, archive_read_support_format_zip,
                    archive_read_support_format_tar, archive_read_support_format_7zip,
                    archive_read_support_format_cpio}) {
      if (fn(handle) < ARCHIVE_WARN) return libarchive_error(ARCHIVE_FATAL, name);
    }
    archive_read_set_passphrase_callback(handle, this, &Impl::passphrase_cb);
    archive_read_set_callback_data(handle, this);
    archive_read_set_read_callback(handle, &Impl::read_cb);
    archive_read_set_skip_callback(handle, &Impl::skip_cb);
    if (source->seekable()) archive_read_set_seek_callback(handle, &Impl::seek_cb);
    if (archive_read_open1(handle) != ARCHIVE_OK) {
      Error e = libarchive_error(ARCHIVE_FATAL, name).value();
      fatal = e;
      return tl::unexpected(e);
    }
    return {};
  }

  tl::unexpected<Error> libarchive_error(int status, const std::string& subject) {
    if (source_error) return tl::unexpected(*source_error);
    const char* text = archive_error_string(handle);
    return reading_error(status, text ? text : "unknown libarchive error", subject);
  }

  // An error of reading `subject` (the archive, or one of its entries), told in a sentence by
  // what its message says (libarchive's, or the same words from restorekit's own zip reading).
  tl::unexpected<Error> reading_error(int status, const std::string& msg,
                                      const std::string& subject) {
    ErrorCode code = detail::classify_message(msg);
    if (code == ErrorCode::kPasswordRequired && options.passwords.any()) {
      code = ErrorCode::kBadPassword;
    }
    std::string where = subject == name ? fmt::format("{}", name)
                                        : fmt::format("entry \"{}\" of {}", subject, name);
    std::string sentence = detail::reading_sentence(code, where, msg);
    if (status == ARCHIVE_FATAL) fatal = Error(code, sentence, subject);
    return fail(code, std::move(sentence), subject);
  }

  // Before the first header: a part whose first window is not window 0 moves to it; a part
  // with no window to read, or other than the first where the archive has no windows, reads
  // nothing.
  Result<void> first_window() {
    if (!windows) {
      idle = options.zip_window_part != 0;
      return {};
    }
    part.emplace(*windows, options.zip_window_part, options.zip_window_parts,
                 [this](std::uint64_t records) {
                   if (own_zip) own_zip->skip_records(records);
                 });
    RK_TRY_ASSIGN(bool found, part->first());
    idle = !found;
    entries = part->first_index(entries);
    return {};
  }

  // libarchive's next header; the zip directory cursor steps with it. Its readers call the
  // name getters themselves (the zip reader asks for the wide name), with the same exit on a
  // stale ENOMEM as name_of() guards against: errno is cleared here too.
  int next_header(archive_entry** ae);

  // The next entry (nullptr at the end), its header judged; fatal errors stick.
  Result<const Entry*> next();

  // The size and ratio limits, for `bytes` expanded so far (of an entry, or of the stream).
  std::optional<Error> over_limits(std::uint64_t bytes, std::string_view what) const;

  Result<std::span<const std::byte>> account(std::span<const std::byte> block) {
    produced += block.size();
    if (auto over = over_limits(produced, "the archive")) {
      fatal = over;
      return tl::unexpected(*fatal);
    }
    return block;
  }

  // The current entry's next block of data (empty at its end), counted against the limits.
  Result<std::span<const std::byte>> read_block();

  Result<void> drain() {
    if (fatal) return tl::unexpected(*fatal);
    if (codec == Codec::kNone) return {};
    for (;;) {
      auto chunk = source->read();
      if (!chunk) {
        fatal = chunk.error();
        return tl::unexpected(chunk.error());
      }
      if (chunk->empty()) return {};
    }
  }

  Result<void> skip() {
    if (fatal) return tl::unexpected(*fatal);
    if (!entry_open) return {};
    entry_open = false;
    own_pending = false;
    if (own_active) {  // libarchive passes over its data at the next header, unread
      own_active = false;
      return {};
    }
    int r = archive_read_data_skip(handle);
    if (r < ARCHIVE_OK) return libarchive_error(r, entry.raw_path);
    return {};
  }
};

Result<const Entry*> ArchiveReader::Impl::next() {
  if (fatal) return tl::unexpected(*fatal);
  if (idle) return nullptr;
  archive_entry* ae = nullptr;
  int r = next_header(&ae);
  while (r == ARCHIVE_OK && ae && detail::names_the_root(ae)) r = next_header(&ae);
  entry_open = false;
  own_active = false;
  own_pending = false;
  sparse.reset();
  if (r == ARCHIVE_EOF) return nullptr;
  if (fatal) return tl::unexpected(*fatal);  // the next zip window did not open
  if (r == ARCHIVE_FATAL || ae == nullptr) return libarchive_error(ARCHIVE_FATAL, name);
  if (++entries > options.limits.max_entries) {
    fatal = Error(ErrorCode::kLimitExceeded,
                  fmt::format("{} holds more than {} entries, the configured limit; raise it if "
                              "the backup is genuine",
                              name, options.limits.max_entries),
                  name);
    return tl::unexpected(*fatal);
  }
  entry = detail::entry_from(ae, entries - 1);
  entry_open = true;
  if (entry.encrypted && entry.type == EntryType::kSymlink) {
    // libarchive reads a link's target with its header, before it decrypts anything: what it
    // read (or failed to) is no target. Nothing of the entry is read.
    entry.link_target.clear();
    entry.problem = Error(ErrorCode::kEncryptionUnsupported,
                          fmt::format("the target of encrypted link \"{}\" cannot be read "
                                      "(libarchive does not decrypt link targets); links are "
                                      "never restored",
                                      entry.raw_path),
                          entry.raw_path);
    entry_open = false;
  } else if (r == ARCHIVE_FAILED || (r != ARCHIVE_OK && !entry.problem)) {
    const char* text = archive_error_string(handle);
    entry.problem = Error(detail::classify_message(text ? text : ""),
                          fmt::format("entry \"{}\" has a damaged header: {}", entry.raw_path,
                                      text ? text : "unknown"),
                          entry.raw_path);
    // A failed header: the entry is unusable, the archive reads on. Its data is not asked for
    // (libarchive stands between headers).
    if (r == ARCHIVE_FAILED) entry_open = false;
  }
  if (entries == 1) info = detail::info_of(handle, codec);
  // A clean header, stored or deflated, not encrypted, sizes as libarchive read them:
  // restorekit reads the data.
  own_pending = own_zip && r == ARCHIVE_OK && entry.type == EntryType::kFile && !entry.encrypted &&
                own_zip->may_read(entry.size);
  return &entry;
}

std::optional<Error> ArchiveReader::Impl::over_limits(std::uint64_t bytes,
                                                      std::string_view what) const {
  const auto& lim = options.limits;
  if (bytes > lim.max_total_bytes) {
    return Error(ErrorCode::kLimitExceeded,
                 fmt::format("{} expands past {} bytes, the configured limit; stopped", name,
                             lim.max_total_bytes),
                 entry.raw_path);
  }
  // A compressed stream counts what its decoder consumed, not what was read ahead of it. The
  // compressed bytes of an entry restorekit reads itself count once libarchive skips past
  // them; meanwhile they count here.
  std::uint64_t raw = (codec == Codec::kNone ? raw_read.load() : notes.consumed()) +
                      (own_active ? own_zip->compressed_read() : 0);
  if (bytes > lim.ratio_grace_bytes &&
      static_cast<double>(bytes) > lim.max_ratio * static_cast<double>(raw + 1)) {
    std::string where = entry_open ? fmt::format("entry \"{}\" of {}", entry.raw_path, name)
                                   : fmt::format("{} of {}", what, name);
    return Error(ErrorCode::kRatioLimit,
                 fmt::format("{} expands more than {:.0f}:1 (a decompression bomb?); stopped "
                             "before it filled memory or disk",
                             where, lim.max_ratio),
                 entry.raw_path);
  }
  return std::nullopt;
}

Result<std::span<const std::byte>> ArchiveReader::Impl::read_block() {
  if (fatal) return tl::unexpected(*fatal);
  if (!entry_open) return std::span<const std::byte>{};
  if (auto owed = sparse.owed(); !owed.empty()) return account(owed);
  if (own_pending) {  // settled at the first read: skipped entries cost no header read
    own_pending = false;
    own_active = own_zip->begin();
  }
  if (own_active) {
    auto block = own_zip->read();
    if (!block) {
      entry_open = false;
      own_active = false;
      if (block.error().code == ErrorCode::kIo) return tl::unexpected(block.error());
      return reading_error(ARCHIVE_WARN, block.error().message, entry.raw_path);
    }
    if (block->empty()) {
      entry_open = false;
      own_active = false;
      return *block;
    }
    return account(*block);
  }
  const void* buf = nullptr;
  std::size_t size = 0;
  la_int64_t offset = 0;
  int r = archive_read_data_block(handle, &buf, &size, &offset);
  if (r == ARCHIVE_EOF) {
    // A sparse file may end in a hole.
    auto zeros = sparse.end(entry.type == EntryType::kFile ? entry.size : std::nullopt);
    if (!zeros.empty()) return account(zeros);
    entry_open = false;
    return zeros;
  }
  if (r < ARCHIVE_OK) {
    entry_open = false;
    return libarchive_error(r, entry.raw_path);
  }
  std::span<const std::byte> block(static_cast<const std::byte*>(buf), size);
  return account(sparse.place(block, static_cast<std::uint64_t>(std::max<la_int64_t>(0, offset))));
}

int ArchiveReader::Impl::next_header(archive_entry** ae) {
  errno = 0;
  int r = archive_read_next_header(handle, ae);
  while (r == ARCHIVE_EOF && windows) {
    auto more = part->next();
    if (more && !*more) break;
    if (!more) {
      if (more.error().code == ErrorCode::kIo) source_error = more.error();
      archive_set_error(handle, EILSEQ, "%s", more.error().message.c_str());
      return ARCHIVE_FATAL;
    }
    // The next window, on a reader of its own.
    archive_read_free(handle);
    handle = nullptr;
    passwords.offer_again();
    if (auto started = start(); !started) {
      fatal = started.error();
      return ARCHIVE_FATAL;
    }
    entries = part->first_index(entries);
    errno = 0;
    r = archive_read_next_header(handle, ae);
  }
  if (own_zip && (r == ARCHIVE_OK || r == ARCHIVE_WARN) && *ae) {
    la_int64_t here = archive_filter_bytes(handle, 0);
    own_zip->header_read(here < 0 ? std::nullopt : std::optional(static_cast<std::uint64_t>(here)));
  }
  return r;
}

la_ssize_t ArchiveReader::Impl::read_cb(archive* a, void* data, const void** buffer) {
  auto* self = static_cast<Impl*>(data);
  auto chunk = self->source->read();
  if (!chunk) {
    self->source_error = chunk.error();
    archive_set_error(a, EIO, "%s", chunk.error().message.c_str());
    return -1;
  }
  // The decoded stream counts too: skipping an entry (inspect) still expands it.
  self->fed += chunk->size();
  if (auto over = self->over_limits(self->fed, "the archive stream")) {
    self->fatal = over;
    self->source_error = over;
    archive_set_error(a, EIO, "%s", over->message.c_str());
    return -1;
  }
  *buffer = chunk->data();
  return static_cast<la_ssize_t>(chunk->size());
}

la_int64_t ArchiveReader::Impl::seek_cb(archive* a, void* data, la_int64_t offset, int whence) {
  auto* self = static_cast<Impl*>(data);
  auto pos = self->source->seek(offset, whence);
  if (!pos) {
    self->source_error = pos.error();
    archive_set_error(a, EIO, "%s", pos.error().message.c_str());
    return ARCHIVE_FATAL;
  }
  return static_cast<la_int64_t>(*pos);
}

la_int64_t ArchiveReader::Impl::skip_cb(archive*, void* data, la_int64_t request) {
  auto* self = static_cast<Impl*>(data);
  auto size = self->source->size();
  if (!self->source->seekable() || !size || request <= 0) return 0;
  auto here = self->source->seek(0, SEEK_CUR);
  if (!here) return 0;
  auto step = std::min<std::uint64_t>(static_cast<std::uint64_t>(request),
                                      *size > *here ? *size - *here : 0);
  if (!self->source->seek(static_cast<std::int64_t>(step), SEEK_CUR)) return 0;
  self->raw_read += step;
  return static_cast<la_int64_t>(step);
}

const char* ArchiveReader::Impl::passphrase_cb(archive*, void* data) {
  return static_cast<Impl*>(data)->passwords.next();
}

ArchiveReader::ArchiveReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ArchiveReader::ArchiveReader(ArchiveReader&&) noexcept = default;
ArchiveReader& ArchiveReader::operator=(ArchiveReader&&) noexcept = default;
ArchiveReader::~ArchiveReader() = default;

namespace {

// Of several candidate passwords, the first that reads the archive's first encrypted file
// entry (among its first kProofEntries) to its end without an error, its CRC checked: the check
// libarchive makes of a password before it decrypts lets wrong ones through (ZipCrypto's byte 1
// in 256, WinZip AES's two bytes 1 in 65,536), and the entry then fails as if it were damaged.
// nullopt where no candidate does (none is right, the entry is damaged) or nothing is
// encrypted: the readers then try the candidates in their order, as libarchive does.
std::optional<std::string> prove_password(const ArchiveSource& archive,
                                          const ReaderOptions& options) {
  constexpr int kProofEntries = 1000;
  for (const auto& candidate : options.passwords.candidates) {
    ReaderOptions o;
    o.limits = options.limits;
    o.passwords.candidates = {candidate};
    auto reader = ArchiveReader::open(archive, std::move(o));
    // Of the formats libarchive decrypts, zip alone checks a password before it decrypts.
    if (!reader || !reader->starts_like_zip()) return std::nullopt;
    bool met_encrypted = false;
    for (int seen = 0; seen < kProofEntries && !met_encrypted; ++seen) {
      auto e = reader->next();
      if (!e || !*e) return std::nullopt;  // nothing encrypted where a reader can reach it
      if (!(*e)->encrypted || (*e)->type != EntryType::kFile || (*e)->problem) {
        if (!reader->skip()) return std::nullopt;
        continue;
      }
      met_encrypted = true;
      for (;;) {
        auto block = reader->read_block();
        if (!block) break;
        if (block->empty()) return candidate;
      }
    }
    if (!met_encrypted) return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

Result<ArchiveReader> ArchiveReader::open(const ArchiveSource& archive, ReaderOptions options) {
  if (options.passwords.candidates.size() > 1) {
    options.passwords.prove_once([&] { return prove_password(archive, options); });
  }
  RK_TRY_ASSIGN(auto source, archive.open());
  return open(std::move(source), std::move(options));
}

Result<ArchiveReader> ArchiveReader::open(std::unique_ptr<ByteSource> source,
                                          ReaderOptions options) {
  RK_TRY(require_utf8_locale());
  auto impl = std::make_unique<Impl>();
  impl->name = source->name();
  // The zip's file or memory, owned by the chain below, read at random beside libarchive.
  ByteSource* file = source->reads_at_in_place() ? source.get() : nullptr;
  auto counted = std::make_unique<CountingSource>(std::move(source), &impl->raw_read);
  RK_TRY_ASSIGN(impl->source, with_decoder(std::move(counted), impl->codec, impl->zip, &impl->notes,
                                           options.prefetch));
  impl->options = std::move(options);
  if (impl->zip) impl->zip_file = file;
  if (impl->zip && file && impl->options.own_zip_inflate) {
    impl->own_zip = std::make_unique<OwnZipReader>(*file);
  }
  if (impl->zip && file && file->size() && impl->options.zip_window_entries > 0) {
    RK_TRY_ASSIGN(std::size_t window, window_entries(file, impl->options));
    RK_TRY_ASSIGN(auto windows, ZipWindows::open(reads_of(file), *file->size(), window));
    if (windows) {
      impl->windows = std::make_unique<ZipWindows>(std::move(*windows));
      impl->source = std::make_unique<ZipWindowSource>(std::move(impl->source), *impl->windows);
    }
  }
  RK_TRY(impl->first_window());
  RK_TRY(impl->start());
  return ArchiveReader(std::move(impl));
}

Result<const Entry*> ArchiveReader::next() {
  return impl_->next();
}
Result<std::span<const std::byte>> ArchiveReader::read_block() {
  return impl_->read_block();
}
Result<void> ArchiveReader::skip() {
  return impl_->skip();
}
bool ArchiveReader::starts_like_zip() const {
  return impl_->zip;
}
bool ArchiveReader::dead() const {
  return impl_->fatal.has_value();
}
Result<void> ArchiveReader::drain() {
  return impl_->drain();
}
std::vector<Finding> ArchiveReader::stream_notes() const {
  return impl_->notes.snapshot();
}
const ArchiveInfo& ArchiveReader::info() const {
  return impl_->info;
}
const std::string& ArchiveReader::name() const {
  return impl_->name;
}
std::uint64_t ArchiveReader::raw_bytes_read() const {
  return impl_->raw_read;
}
std::uint64_t ArchiveReader::bytes_produced() const {
  return impl_->produced;
}
std::uint64_t ArchiveReader::own_zip_entries() const {
  return impl_->own_zip ? impl_->own_zip->entries() : 0;
}
Result<std::optional<std::uint64_t>> ArchiveReader::zip_listed_entries() {
  ByteSource* file = impl_->zip_file;
  if (!file || !file->size()) return std::optional<std::uint64_t>{};
  return core::zip_listed_entries(reads_of(file), *file->size());
}
std::uint64_t ArchiveReader::zip_windows() const {
  return impl_->windows ? impl_->windows->windows() : 0;
}
std::optional<std::uint64_t> ArchiveReader::raw_size() const {
  // A zip read in windows: its source is the virtual file, larger than the zip.
  if (impl_->windows) return impl_->windows->real_size();
  return impl_->source->size();
}

}  // namespace restorekit::core
