#include <restorekit/core/archive_pass.hpp>

#include <algorithm>

#include <fmt/format.h>

namespace restorekit::core {

Result<PassOutcome> ArchivePass::run(ArchiveReader& reader) {
  for (;;) {
    RK_TRY(check_cancel(reader));
    auto next = reader.next();
    if (!next) {
      out_.stopped = next.error();
      break;
    }
    if (*next == nullptr) break;
    if (out_.entries++ == 0 && o_.on_format) o_.on_format(reader.info());
    RK_TRY(visit(reader, **next));
    if (out_.stopped) break;
    if (all_done()) {
      out_.finished_early = true;
      break;
    }
  }
  if (!out_.stopped && !out_.finished_early && o_.drain) {
    if (auto drained = reader.drain(); !drained) out_.drain_error = drained.error();
  }
  out_.raw_offset = reader.raw_bytes_read();
  return std::move(out_);
}

bool ArchivePass::all_done() const {
  return !visitors_.empty() &&
         std::all_of(visitors_.begin(), visitors_.end(), [](auto* v) { return v->done(); });
}

Result<void> ArchivePass::visit(ArchiveReader& reader, const Entry& entry) {
  auto& readers = readers_;  // reused: no allocation per entry
  readers.clear();
  for (auto* v : visitors_) {
    RK_TRY_ASSIGN(auto interest, v->begin(entry));
    if (interest == Interest::kData) readers.push_back(v);
  }
  EntryEnd how;
  bool readable = entry.safe() && entry.type == EntryType::kFile;
  if (readable && (!o_.reads || o_.reads(entry))) {
    how.data_read = true;
    RK_TRY(read_data(reader, readers, how));
  }
  if (!how.failure) out_.last_good_entry = entry.safe() ? entry.path : entry.raw_path;
  for (auto* v : visitors_) RK_TRY(v->end(entry, how));
  return {};
}

// Reads blocks while any visitor wants them. With nobody left, the rest of the entry is
// skipped by the reader's next() (unread data is never hashed, so never called verified).
Result<void> ArchivePass::read_data(ArchiveReader& reader, std::vector<EntryVisitor*>& readers,
                                    EntryEnd& how) {
  // Zip readers on several threads: bytes read or skipped over to reach this entry are counted
  // by another reader, or by none.
  if (o_.data_progress_only) reported_ = reader.raw_bytes_read();
  while (!readers.empty()) {
    RK_TRY(check_cancel(reader));
    auto block = reader.read_block();
    if (!block) {
      how.failure = block.error();
      how.fatal = reader.dead();
      if (how.fatal) out_.stopped = block.error();
      return {};
    }
    progress(reader);
    if (block->empty()) return {};
    how.bytes += block->size();
    std::size_t kept = 0;  // compacted in place: no allocation per block
    for (auto* v : readers) {
      RK_TRY_ASSIGN(auto interest, v->block(*block));
      if (interest == Interest::kData) readers[kept++] = v;
    }
    readers.resize(kept);
  }
  how.data_read = false;  // nobody read it to its end: the rest is skipped
  return {};
}

Result<void> ArchivePass::check_cancel(const ArchiveReader& reader) const {
  if (!o_.cancel.cancelled()) return {};
  return fail(ErrorCode::kCancelled, fmt::format("reading {} was cancelled", reader.name()),
              reader.name());
}

void ArchivePass::progress(const ArchiveReader& reader) {
  if (!o_.progress) return;
  std::uint64_t now = reader.raw_bytes_read();
  o_.progress(now - reported_);
  reported_ = now;
}

}  // namespace restorekit::core
