#include "reader_passes.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include <fmt/format.h>

namespace restorekit::verify::detail {

namespace {

// A zip whose entries average fewer bytes of the file than this is read by one reader: every
// reader parses every header, so a second one costs ~4 us an entry and gains on the data alone.
// Measured on 2 cores (Info-ZIP zips of base64 text, 20,000 entries): 403 bytes an entry, one
// reader 9% faster; 627, even; 853, two readers 5% faster; 1,227 and more, two ever faster.
constexpr std::uint64_t kSmallZipEntry = 640;
// A zip that lists at least this many entries is read in parts, each reader its own windows of
// its directory: below it, the headers that every reader parses cost a few milliseconds at most.
constexpr std::uint64_t kPartedRecords = 1024;

class ReaderPasses {
 public:
  ReaderPasses(const PassesInput& in, PassFindings& findings)
      : in_(in), o_(in.options), findings_(findings), throttle_(in.options.progress) {}

  // Opens the first reader, then (zip only) more readers on more threads; merges outcomes.
  Result<PassesOutcome> run() {
    core::ReaderOptions reader_options = o_.reader;
    reader_options.prefetch = core::Prefetch::kYes;  // hashing hides behind decompression
    auto opened = core::ArchiveReader::open(in_.archive, reader_options);
    if (!opened) {
      // A small damaged stream fails while the reader starts: damage, unless operational.
      out_.complete = false;
      std::error_code ec;
      if (in_.archive.path())
        out_.archive_bytes = std::filesystem::file_size(*in_.archive.path(), ec);
      RK_TRY(findings_.damage(opened.error(), ""));
      return std::move(out_);
    }
    std::optional<core::ArchiveReader> reader(std::move(*opened));
    RK_TRY(read_in_parts(reader, reader_options));
    out_.archive_bytes = reader->raw_size().value_or(0);
    // Zip entries are independent: each reader seeks straight to its own entries (a zip read in
    // windows: its own windows, whose headers no other reader parses), and the central
    // directory is checked against the local headers beside the pass.
    bool by_windows = reader_options.zip_window_parts > 1;
    unsigned workers = by_windows                  ? reader_options.zip_window_parts
                       : reader->starts_like_zip() ? zip_readers(*reader)
                                                   : 1;
    if (reader->starts_like_zip()) {
      out_.directory = std::async(std::launch::async, [archive = &in_.archive] {
        return core::check_zip_directory(*archive);
      });
    }
    out_.readers = workers;
    std::vector<Result<PassOutcome>> outcomes(workers, fail(ErrorCode::kInternal, "not run"));
    std::vector<std::thread> threads;
    std::mutex progress_mutex;
    // Called after every block of every reader: one that finds another reporting skips its turn.
    std::function<void()> on_progress = [&] {
      std::unique_lock lock(progress_mutex, std::try_to_lock);
      if (!lock) return;
      progress_.bytes_done = raw_bytes_.load(std::memory_order_relaxed);
      progress_.bytes_total = out_.archive_bytes;
      throttle_.update(progress_);
    };
    if (!o_.progress) on_progress = nullptr;
    std::vector<PassPlan> plans(workers);
    for (unsigned w = 0; w < workers; ++w) {
      plans[w] = PassPlan{
          &in_.store,   w,         workers,     by_windows,  in_.caller_list, in_.stage_dir,
          &o_.visitors, o_.cancel, &raw_bytes_, on_progress, in_.on_entry};
    }
    for (unsigned w = 1; w < workers; ++w) {
      threads.emplace_back([&, w] {
        core::ReaderOptions part = o_.reader;
        if (by_windows) {
          part.zip_window_part = w;
          part.zip_window_parts = workers;
        }
        auto r = core::ArchiveReader::open(in_.archive, part);
        outcomes[w] = r ? run_pass(*r, plans[w]) : tl::unexpected(r.error());
      });
    }
    outcomes[0] = run_pass(*reader, plans[0]);
    out_.archive = reader->info();
    for (const auto& n : reader->stream_notes()) findings_.add(n);
    for (auto& t : threads) t.join();
    RK_TRY(merge(outcomes));
    return std::move(out_);
  }

 private:
  // A zip that lists kPartedRecords or more, with more than one thread: opened again to be read
  // in parts, each reader its own windows of its directory (ReaderOptions::zip_window_part),
  // which spares every reader every other one's headers. `options.zip_window_parts` says
  // whether it is. Where the zip cannot be read so, the reader opened first reads it.
  Result<void> read_in_parts(std::optional<core::ArchiveReader>& reader,
                             core::ReaderOptions& options) {
    unsigned parts = thread_count(o_);
    if (parts == 1 || !reader->starts_like_zip() || options.zip_window_entries == 0) return {};
    RK_TRY_ASSIGN(auto listed, reader->zip_listed_entries());
    if (!listed || *listed < kPartedRecords) return {};
    options.zip_window_parts = parts;
    auto parted = core::ArchiveReader::open(in_.archive, options);
    if (parted && parted->zip_windows() > 0) {
      reader.emplace(std::move(*parted));
    } else {
      options.zip_window_parts = 1;  // the directory disagrees with its end record
    }
    return {};
  }

  // Up to --threads readers for a zip, but one where its entries are small: every reader parses
  // every header (reading only its own entries' data), so a second reader pays off only where
  // the data, not the headers, is the work.
  unsigned zip_readers(core::ArchiveReader& reader) {
    unsigned most = thread_count(o_);
    if (most == 1) return 1;
    auto listed = reader.zip_listed_entries();
    if (!listed || !*listed || **listed == 0) return most;
    std::uint64_t per_entry = reader.raw_size().value_or(0) / **listed;
    return per_entry < kSmallZipEntry ? 1 : most;
  }

  Result<void> merge(std::vector<Result<PassOutcome>>& outcomes) {
    for (auto& o : outcomes) {
      if (!o) return tl::unexpected(o.error());
    }
    for (auto& o : outcomes) {
      for (auto& r : o->notable) out_.notable.push_back(std::move(r));
      out_.bytes += o->bytes;
      out_.decrypted += o->decrypted;
    }
    std::sort(out_.notable.begin(), out_.notable.end(),
              [](const EntryResult& a, const EntryResult& b) { return a.index < b.index; });
    // Each reader kept its own first damaged entries: the first of all of them stay.
    for (auto& o : outcomes) merge_left_out(o->left_out, out_.left_out);
    limit_damaged(out_.notable, out_.left_out);
    for (auto& o : outcomes) {
      out_.complete = out_.complete && !o->pass.stopped;
      RK_TRY(stopped(o->pass));
      if (o->pass.drain_error) RK_TRY(findings_.damage(*o->pass.drain_error, ""));
    }
    return {};
  }

  // A fatal error that ended a pass: the archive is damaged (or could not be verified).
  Result<void> stopped(const core::PassOutcome& o) {
    if (!o.stopped) return {};
    Error e = *o.stopped;
    if (e.code == ErrorCode::kTruncated) {
      e.message = fmt::format(
          "{}; the last intact entry is \"{}\", reading stopped at byte {} of "
          "{}",
          e.message, o.last_good_entry, o.raw_offset, out_.archive_bytes);
    }
    RK_TRY(findings_.damage(e, o.last_good_entry));
    findings_.reported(o.stopped->message);  // the failed entry reports the same damage
    return {};
  }

  const PassesInput& in_;
  const VerifyOptions& o_;
  PassFindings& findings_;
  ProgressThrottle throttle_;
  Progress progress_;
  std::atomic<std::uint64_t> raw_bytes_{0};
  PassesOutcome out_;
};

}  // namespace

unsigned thread_count(const VerifyOptions& o) {
  unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  return std::clamp(o.threads == 0 ? hw : o.threads, 1u, 64u);
}

Result<PassesOutcome> read_archive(const PassesInput& in, PassFindings& findings) {
  return ReaderPasses(in, findings).run();
}

}  // namespace restorekit::verify::detail
