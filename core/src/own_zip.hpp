// Zip entries whose data restorekit reads and inflates itself (ISA-L), beside libarchive, which
// still reads every header (ReaderOptions::own_zip_inflate). A cursor walks the central
// directory one record per libarchive header (libarchive visits entries in local-header order,
// as most writers list them); before an entry's data is read, the record must be this entry's:
// its data starts where libarchive stands after the header. Out of step once, the cursor stays
// off and libarchive reads the rest. Small entries' headers and data are read through the
// cursor's 64 KiB piece of the file (a read per piece, not two per entry). Memory: two 256 KiB
// buffers, ISA-L's state and the cursor's two 64 KiB pieces (directory, local), whatever the
// number of entries. Thread safety: one per reader.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include <restorekit/core/byte_source.hpp>
#include <restorekit/core/error.hpp>
#include <restorekit/core/zip_directory.hpp>

struct inflate_state;

namespace restorekit::core {

class OwnZipReader {
 public:
  // `file` reads at random without moving (ByteSource::reads_at_in_place); it must outlive this.
  explicit OwnZipReader(ByteSource& file);
  ~OwnZipReader();
  OwnZipReader(const OwnZipReader&) = delete;
  OwnZipReader& operator=(const OwnZipReader&) = delete;

  // libarchive read a header and stands at byte `here` (nullopt: it cannot tell): the
  // cursor's next record is this entry's candidate.
  void header_read(std::optional<std::uint64_t> here);

  // The next `records` records of the directory belong to no header of this reader (a zip
  // window another reader reads): the cursor steps over them before the next header.
  void skip_records(std::uint64_t records) { skip_ += records; }

  // Whether the current entry, a regular file with a clean, unencrypted header of `size` bytes
  // (as libarchive read it), is stored or deflated by its record and may be read here.
  [[nodiscard]] bool may_read(std::optional<std::uint64_t> size) const;

  // Starts reading the current entry when its record is this entry's (its local header puts the
  // data where libarchive stands); false: libarchive reads it (and the rest).
  [[nodiscard]] bool begin();

  // The next block of the entry begun; empty at its end. Damage is kCorruptData with
  // libarchive's wording ("ZIP bad CRC: ...", "Truncated ZIP file data"); kIo as the file's.
  [[nodiscard]] Result<std::span<const std::byte>> read();

  // Compressed bytes read of the entry begun (the reader's ratio limit counts them).
  [[nodiscard]] std::uint64_t compressed_read() const { return read_; }
  // Entries begun so far.
  [[nodiscard]] std::uint64_t entries() const { return entries_; }

 private:
  Result<std::size_t> fill(std::byte* into, std::size_t want);
  Result<std::span<const std::byte>> stored();
  Result<std::span<const std::byte>> inflated();

  ByteSource& file_;
  enum class Cursor { kUnopened, kInStep, kOff } state_ = Cursor::kUnopened;
  std::optional<ZipDirectoryCursor> cursor_;
  std::optional<ZipRecord> record_;  // the cursor's record for the current entry
  std::uint64_t here_ = 0;           // where libarchive stood after its header
  std::uint64_t entries_ = 0;
  std::uint64_t skip_ = 0;  // records to step over before the next header's
  // The entry begun:
  std::uint64_t data_offset_ = 0;
  std::uint64_t read_ = 0;
  std::uint64_t written_ = 0;
  std::uint32_t crc_ = 0;
  bool finished_ = false;
  std::unique_ptr<std::byte[]> in_;
  std::unique_ptr<std::byte[]> out_;
  std::unique_ptr<inflate_state> inflate_;
};

}  // namespace restorekit::core
