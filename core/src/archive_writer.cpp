#include <restorekit/core/archive_writer.hpp>

#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include <restorekit/core/archive_reader.hpp>
#include <restorekit/core/safe_path.hpp>

#include "full_disk.hpp"

namespace restorekit::core {

namespace {

// Input per zstd frame: small enough that several frames decode at once in little memory, large
// enough that the ratio barely moves (level 3's window is 2 MiB anyway).
constexpr std::size_t kZstdFrameBytes = std::size_t{2} << 20;

// True when `name` holds the UTF-8 form of a UTF-16 surrogate (U+D800 to U+DFFF: 0xED, then
// 0xA0 to 0xBF).
bool holds_surrogate(std::string_view name) {
  for (std::size_t i = name.find('\xed'); i != std::string_view::npos && i + 1 < name.size();
       i = name.find('\xed', i + 1)) {
    if ((static_cast<unsigned char>(name[i + 1]) & 0xe0) == 0xa0) return true;
  }
  return false;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

std::string_view archive_kind_name(ArchiveKind kind) {
  switch (kind) {
    case ArchiveKind::kZip: return "zip";
    case ArchiveKind::kTarGz: return "tar.gz";
    case ArchiveKind::kTarZst: return "tar.zst";
    case ArchiveKind::kTarXz: return "tar.xz";
  }
  return "zip";
}

Result<ArchiveKind> archive_kind_from_name(const std::filesystem::path& path) {
  std::string name = path.filename().string();
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ends_with(name, ".zip")) return ArchiveKind::kZip;
  if (ends_with(name, ".tar.gz") || ends_with(name, ".tgz")) return ArchiveKind::kTarGz;
  if (ends_with(name, ".tar.zst") || ends_with(name, ".tzst")) return ArchiveKind::kTarZst;
  if (ends_with(name, ".tar.xz") || ends_with(name, ".txz")) return ArchiveKind::kTarXz;
  return fail(ErrorCode::kInvalidArgument,
              fmt::format("cannot tell the archive format of {}; name it .zip, .tar.gz, .tar.zst "
                          "or .tar.xz",
                          path.string()),
              path.string());
}

struct ArchiveWriter::Impl {
  archive* handle = nullptr;
  archive_entry* entry = nullptr;
  int fd = -1;
  std::vector<std::byte>* memory = nullptr;
  std::string name;
  std::uint64_t written = 0;
  std::uint64_t declared = 0;
  std::uint64_t entry_written = 0;
  std::string current;
  bool utf8_names = false;  // tar names written as UTF-8

  ZSTD_CCtx* zstd = nullptr;
  std::vector<char> zstd_in;  // the frame being filled
  std::vector<char> zstd_out;
  bool zstd_framed = false;  // at least one frame written

  ~Impl() {
    if (entry) archive_entry_free(entry);
    if (handle) archive_write_free(handle);
    ZSTD_freeCCtx(zstd);
  }

  // Where compressed bytes end up: the caller's fd or memory buffer.
  bool sink(archive* a, const void* buffer, std::size_t length) {
    const auto* bytes = static_cast<const std::byte*>(buffer);
    if (memory) {
      memory->insert(memory->end(), bytes, bytes + length);
    } else {
      std::size_t done = 0;
      while (done < length) {
        ssize_t n = ::write(fd, bytes + done, length - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          archive_set_error(a, errno, "%s", std::strerror(errno));
          return false;
        }
        done += static_cast<std::size_t>(n);
      }
    }
    written += length;
    return true;
  }

  // Our tar.zst is a series of independent frames of kZstdFrameBytes of input, each with its
  // content size and checksum: stock zstd and bsdtar read them as one stream, and restorekit
  // decodes them on several cores at once.
  bool compress(archive* a, const void* buffer, std::size_t length) {
    const char* p = static_cast<const char*>(buffer);
    while (length > 0) {
      std::size_t take = std::min(length, kZstdFrameBytes - zstd_in.size());
      zstd_in.insert(zstd_in.end(), p, p + take);
      p += take;
      length -= take;
      if (zstd_in.size() == kZstdFrameBytes && !end_frame(a)) return false;
    }
    return true;
  }

  bool end_frame(archive* a) {
    std::size_t n =
        ZSTD_compress2(zstd, zstd_out.data(), zstd_out.size(), zstd_in.data(), zstd_in.size());
    if (ZSTD_isError(n)) {
      archive_set_error(a, EIO, "zstd: %s", ZSTD_getErrorName(n));
      return false;
    }
    zstd_in.clear();
    zstd_framed = true;
    return sink(a, zstd_out.data(), n);
  }

  static la_ssize_t write_cb(archive* a, void* data, const void* buffer, std::size_t length) {
    auto* self = static_cast<Impl*>(data);
    bool ok = self->zstd ? self->compress(a, buffer, length) : self->sink(a, buffer, length);
    return ok ? static_cast<la_ssize_t>(length) : -1;
  }

  static int close_cb(archive* a, void* data) {
    auto* self = static_cast<Impl*>(data);
    bool pending = self->zstd && (!self->zstd_in.empty() || !self->zstd_framed);
    if (pending && !self->end_frame(a)) return ARCHIVE_FATAL;
    return ARCHIVE_OK;
  }

  tl::unexpected<Error> error(std::string_view what) {
    const char* text = handle ? archive_error_string(handle) : nullptr;
    bool full = handle && detail::is_full(archive_errno(handle));
    return fail(ErrorCode::kIo,
                fmt::format("cannot write {}: {} ({}){}", name, what, text ? text : "unknown error",
                            full ? detail::free_space_hint(name) : ""),
                name);
  }

  Result<void> option(const char* module, const char* key, const std::string& value) {
    if (archive_write_set_option(handle, module, key, value.c_str()) != ARCHIVE_OK) {
      return error(fmt::format("option {}:{}={} refused", module, key, value));
    }
    return {};
  }

  Result<void> configure(const WriterOptions& o) {
    handle = archive_write_new();
    entry = archive_entry_new();
    if (!handle || !entry) return fail(ErrorCode::kInternal, "libarchive could not allocate");
    if (o.password && o.kind != ArchiveKind::kZip) {
      return fail(ErrorCode::kInvalidArgument,
                  fmt::format("{}: only zip backups can be encrypted; name the output .zip", name),
                  name);
    }
    return o.kind == ArchiveKind::kZip ? configure_zip(o) : configure_tar(o);
  }

  Result<void> configure_zip(const WriterOptions& o) {
    if (archive_write_set_format_zip(handle) != ARCHIVE_OK) return error("zip format");
    archive_write_set_bytes_in_last_block(handle, 1);  // the zip ends with its end record
    RK_TRY(option("zip", "compression", "deflate"));
    if (o.level >= 0) RK_TRY(option("zip", "compression-level", std::to_string(o.level)));
    if (o.password) {
      RK_TRY(option("zip", "encryption", "aes256"));
      if (archive_write_set_passphrase(handle, o.password->c_str()) != ARCHIVE_OK) {
        return error("password");
      }
    }
    return {};
  }

  Result<void> configure_tar(const WriterOptions& o) {
    // Names go in as UTF-8, pax's own charset, unless the caller asks for them raw (see
    // WriterOptions::raw_names and header()).
    if (archive_write_set_format_pax_restricted(handle) != ARCHIVE_OK) return error("tar format");
    if (o.raw_names) RK_TRY(option("pax", "hdrcharset", "BINARY"));
    utf8_names = !o.raw_names;
    archive_write_set_bytes_in_last_block(handle, 1);
    if (o.kind == ArchiveKind::kTarZst) return configure_zstd(o);
    bool gzip = o.kind == ArchiveKind::kTarGz;
    const char* module = gzip ? "gzip" : "xz";
    int r = gzip ? archive_write_add_filter_gzip(handle) : archive_write_add_filter_xz(handle);
    if (r != ARCHIVE_OK) return error("compression filter");
    if (o.level >= 0) RK_TRY(option(module, "compression-level", std::to_string(o.level)));
    if (o.threads > 1 && !gzip) RK_TRY(option(module, "threads", std::to_string(o.threads)));
    return {};
  }

  // zstd is compressed here rather than by libarchive's filter, which writes frames without
  // content checksums; ours carry them, so `zstd -t` and verify can check every frame.
  Result<void> configure_zstd(const WriterOptions& o) {
    zstd = ZSTD_createCCtx();
    if (!zstd) return fail(ErrorCode::kInternal, "zstd could not allocate a compressor");
    zstd_in.reserve(kZstdFrameBytes);
    zstd_out.resize(ZSTD_compressBound(kZstdFrameBytes));
    int level = o.level >= 0 ? o.level : ZSTD_CLEVEL_DEFAULT;
    auto set = [&](ZSTD_cParameter param, int value) -> Result<void> {
      std::size_t r = ZSTD_CCtx_setParameter(zstd, param, value);
      if (ZSTD_isError(r)) {
        return fail(ErrorCode::kInvalidArgument,
                    fmt::format("zstd refused a setting for {}: {}", name, ZSTD_getErrorName(r)),
                    name);
      }
      return {};
    };
    RK_TRY(set(ZSTD_c_compressionLevel, level));
    RK_TRY(set(ZSTD_c_checksumFlag, 1));
    if (o.threads > 1) (void)set(ZSTD_c_nbWorkers, o.threads);  // single-threaded libzstd: ignored
    return {};
  }

  Result<void> open() {
    if (archive_write_open2(handle, this, nullptr, &Impl::write_cb, &Impl::close_cb, nullptr) !=
        ARCHIVE_OK) {
      return error("open");
    }
    return {};
  }

  // Where tar names are written as UTF-8, one that is not UTF-8 makes libarchive store that
  // entry's name raw, with hdrcharset=BINARY, and warn: byte-exact, so not an error. UTF-16
  // surrogates written as UTF-8 (not UTF-8, but libarchive's converter takes them) would come
  // out as another name: a pair is joined into one code point.
  Result<void> header(std::string_view path, unsigned type, std::uint64_t size, std::int64_t mtime,
                      std::uint32_t mode) {
    if (utf8_names && holds_surrogate(path)) {
      return fail(ErrorCode::kInvalidArgument,
                  fmt::format("{}: the name {} holds UTF-16 surrogates written as UTF-8, which a "
                              "tar header cannot keep as they are; rename it",
                              name, escape_name(path)),
                  std::string(path));
    }
    archive_entry_clear(entry);
    std::string p(path);
    archive_entry_copy_pathname(entry, p.c_str());
    archive_entry_set_filetype(entry, type);
    archive_entry_set_perm(entry, mode);
    archive_entry_set_size(entry, static_cast<la_int64_t>(size));
    archive_entry_set_mtime(entry, mtime, 0);
    int r = archive_write_header(handle, entry);
    if (r != ARCHIVE_OK && !(utf8_names && r == ARCHIVE_WARN)) {
      return error(fmt::format("header of {}", path));
    }
    current = p;
    declared = size;
    entry_written = 0;
    return {};
  }
};

ArchiveWriter::ArchiveWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ArchiveWriter::ArchiveWriter(ArchiveWriter&&) noexcept = default;
ArchiveWriter& ArchiveWriter::operator=(ArchiveWriter&&) noexcept = default;
ArchiveWriter::~ArchiveWriter() = default;

Result<ArchiveWriter> ArchiveWriter::open_fd(int fd, std::string name,
                                             const WriterOptions& options) {
  RK_TRY(require_utf8_locale());
  auto impl = std::make_unique<Impl>();
  impl->fd = fd;
  impl->name = std::move(name);
  RK_TRY(impl->configure(options));
  RK_TRY(impl->open());
  return ArchiveWriter(std::move(impl));
}

Result<ArchiveWriter> ArchiveWriter::open_memory(std::vector<std::byte>& out,
                                                 const WriterOptions& options) {
  RK_TRY(require_utf8_locale());
  auto impl = std::make_unique<Impl>();
  impl->memory = &out;
  impl->name = "<memory>";
  RK_TRY(impl->configure(options));
  RK_TRY(impl->open());
  return ArchiveWriter(std::move(impl));
}

Result<void> ArchiveWriter::add_directory(std::string_view path, std::int64_t mtime) {
  return impl_->header(path, AE_IFDIR, 0, mtime, 0755);
}

Result<void> ArchiveWriter::begin_file(std::string_view path, std::uint64_t size,
                                       std::int64_t mtime, std::uint32_t mode) {
  return impl_->header(path, AE_IFREG, size, mtime, mode);
}

Result<void> ArchiveWriter::write(std::span<const std::byte> data) {
  auto& d = *impl_;
  if (d.entry_written + data.size() > d.declared) {
    return fail(ErrorCode::kInvalidArgument,
                fmt::format("{} grew while it was being archived; try again", d.current),
                d.current);
  }
  while (!data.empty()) {
    la_ssize_t n = archive_write_data(d.handle, data.data(), data.size());
    if (n <= 0) return d.error(fmt::format("data of {}", d.current));
    d.entry_written += static_cast<std::uint64_t>(n);
    data = data.subspan(static_cast<std::size_t>(n));
  }
  return {};
}

Result<void> ArchiveWriter::end_file() {
  auto& d = *impl_;
  if (d.entry_written != d.declared) {
    return fail(ErrorCode::kInvalidArgument,
                fmt::format("{} shrank while it was being archived ({} of {} bytes); try again",
                            d.current, d.entry_written, d.declared),
                d.current);
  }
  if (archive_write_finish_entry(d.handle) != ARCHIVE_OK) return d.error("entry end");
  return {};
}

Result<void> ArchiveWriter::finish() {
  if (archive_write_close(impl_->handle) != ARCHIVE_OK) return impl_->error("trailer");
  return {};
}

std::uint64_t ArchiveWriter::bytes_written() const {
  return impl_->written;
}

}  // namespace restorekit::core
