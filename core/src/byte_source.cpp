#include <restorekit/core/byte_source.hpp>
#include <restorekit/core/fs.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

namespace restorekit::core {

namespace {

constexpr std::size_t kFileChunk = std::size_t{1} << 20;

class FileSource final : public ByteSource {
 public:
  FileSource(int fd, std::uint64_t size, std::string name)
      : fd_(fd),
        size_(size),
        name_(std::move(name)),
        buffer_(std::make_unique_for_overwrite<std::byte[]>(kFileChunk)) {}
  ~FileSource() override { ::close(fd_); }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  Result<std::span<const std::byte>> read() override {
    for (;;) {
      ssize_t n = ::read(fd_, buffer_.get(), kFileChunk);
      if (n >= 0) return std::span<const std::byte>(buffer_.get(), static_cast<std::size_t>(n));
      if (errno != EINTR) {
        return fail(ErrorCode::kIo, fmt::format("cannot read {}: {}", name_, std::strerror(errno)),
                    name_);
      }
    }
  }

  Result<std::uint64_t> seek(std::int64_t offset, int whence) override {
    off_t pos = ::lseek(fd_, offset, whence);
    if (pos < 0) {
      return fail(ErrorCode::kIo, fmt::format("cannot seek in {}: {}", name_, std::strerror(errno)),
                  name_);
    }
    return static_cast<std::uint64_t>(pos);
  }

  [[nodiscard]] bool reads_at_in_place() const override { return true; }

  // pread: exactly the bytes asked for, and the sequential position is left alone.
  Result<std::size_t> read_at(std::uint64_t offset, std::span<std::byte> out) override {
    std::size_t done = 0;
    while (done < out.size()) {
      ssize_t n =
          ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        return fail(ErrorCode::kIo, fmt::format("cannot read {}: {}", name_, std::strerror(errno)),
                    name_);
      }
      if (n == 0) break;
      done += static_cast<std::size_t>(n);
    }
    return done;
  }

  [[nodiscard]] bool seekable() const override { return true; }
  [[nodiscard]] std::optional<std::uint64_t> size() const override { return size_; }
  [[nodiscard]] std::string name() const override { return name_; }

 private:
  int fd_;
  std::uint64_t size_;
  std::string name_;
  std::unique_ptr<std::byte[]> buffer_;  // not zeroed: a small archive touches a page of it
};

class MemorySource final : public ByteSource {
 public:
  MemorySource(std::span<const std::byte> data, std::string name)
      : data_(data), name_(std::move(name)) {}

  Result<std::span<const std::byte>> read() override {
    auto chunk = data_.subspan(pos_, std::min(kFileChunk, data_.size() - pos_));
    pos_ += chunk.size();
    return chunk;
  }

  Result<std::uint64_t> seek(std::int64_t offset, int whence) override {
    std::int64_t base = whence == SEEK_SET   ? 0
                        : whence == SEEK_CUR ? static_cast<std::int64_t>(pos_)
                                             : static_cast<std::int64_t>(data_.size());
    std::int64_t target = base + offset;
    if (target < 0) return fail(ErrorCode::kIo, "seek before the start of " + name_, name_);
    pos_ = std::min<std::size_t>(static_cast<std::size_t>(target), data_.size());
    return pos_;
  }

  Result<std::size_t> read_at(std::uint64_t offset, std::span<std::byte> out) override {
    if (offset >= data_.size() || out.empty()) return std::size_t{0};
    auto n = std::min<std::size_t>(out.size(), data_.size() - static_cast<std::size_t>(offset));
    std::memcpy(out.data(), data_.data() + offset, n);
    return n;
  }
  [[nodiscard]] bool reads_at_in_place() const override { return true; }

  [[nodiscard]] bool seekable() const override { return true; }
  [[nodiscard]] std::optional<std::uint64_t> size() const override { return data_.size(); }
  [[nodiscard]] std::string name() const override { return name_; }

 private:
  std::span<const std::byte> data_;
  std::size_t pos_ = 0;
  std::string name_;
};

}  // namespace

Result<std::unique_ptr<ByteSource>> open_file_source(const std::filesystem::path& path) {
  std::string name = path.string();
  // A FIFO (no archive we can seek) is refused below; O_NONBLOCK is cleared for a regular file.
  UniqueFd fd = open_for_reading(path);
  if (!fd) {
    int err = errno;
    if (err == ENOENT) {
      return fail(ErrorCode::kNotFound, fmt::format("{} does not exist; check the path", name),
                  name);
    }
    return fail(ErrorCode::kIo, fmt::format("cannot open {}: {}", name, std::strerror(err)), name);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return fail(ErrorCode::kInvalidArgument,
                fmt::format("{} is not a regular file; give the path of a backup archive", name),
                name);
  }
  ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  return std::make_unique<FileSource>(fd.release(), static_cast<std::uint64_t>(st.st_size), name);
}

std::unique_ptr<ByteSource> memory_source(std::span<const std::byte> data, std::string name) {
  return std::make_unique<MemorySource>(data, std::move(name));
}

Result<std::size_t> ByteSource::read_at(std::uint64_t offset, std::span<std::byte> out) {
  RK_TRY(seek(static_cast<std::int64_t>(offset), SEEK_SET));
  std::size_t done = 0;
  while (done < out.size()) {
    RK_TRY_ASSIGN(auto chunk, read());
    if (chunk.empty()) break;
    std::size_t take = std::min(chunk.size(), out.size() - done);
    std::memcpy(out.data() + done, chunk.data(), take);
    done += take;
  }
  return done;
}

ArchiveSource::ArchiveSource(std::filesystem::path path)
    : opener_([path] { return open_file_source(path); }), name_(path.string()), path_(path) {}
ArchiveSource::ArchiveSource(const std::string& path)
    : ArchiveSource(std::filesystem::path(path)) {}
ArchiveSource::ArchiveSource(const char* path) : ArchiveSource(std::filesystem::path(path)) {}
ArchiveSource::ArchiveSource(Opener opener, std::string name)
    : opener_(std::move(opener)), name_(std::move(name)) {}

ArchiveSource ArchiveSource::memory(std::span<const std::byte> data, std::string name) {
  return ArchiveSource(
      [data, name] { return Result<std::unique_ptr<ByteSource>>(memory_source(data, name)); },
      name);
}

Result<std::unique_ptr<ByteSource>> ArchiveSource::open() const {
  return opener_();
}

}  // namespace restorekit::core
