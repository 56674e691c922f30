// Progress reporting and cancellation, shared by every long-running restorekit operation.
//
// An operation takes a `ProgressFn` and a `CancelToken` in its options struct. It calls the
// callback at a bounded rate (see ProgressThrottle) and checks the token between blocks; a
// tripped token makes the operation stop and return ErrorCode::kCancelled, leaving nothing
// half-written. The callback runs on the operation's thread; it may trip the token.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit {

struct Progress {
  std::uint64_t bytes_done = 0;
  std::uint64_t bytes_total = 0;  // 0 when unknown
  std::uint64_t entries_done = 0;
  std::uint64_t entries_total = 0;  // 0 when unknown
  std::string_view current;         // entry or file being processed; valid during the call only
};

using ProgressFn = std::function<void(const Progress&)>;

// A cancellation flag shared between the caller and an operation. Copies share the flag.
// Thread-safe: cancel() may be called from any thread or a signal-safe context (atomic store).
class CancelToken {
 public:
  CancelToken() : flag_(std::make_shared<std::atomic<bool>>(false)) {}
  void cancel() const { flag_->store(true, std::memory_order_relaxed); }
  [[nodiscard]] bool cancelled() const { return flag_->load(std::memory_order_relaxed); }

 private:
  std::shared_ptr<std::atomic<bool>> flag_;
};

// Calls a ProgressFn at most every `interval` (and always for the final update).
class ProgressThrottle {
 public:
  explicit ProgressThrottle(ProgressFn fn,
                            std::chrono::milliseconds interval = std::chrono::milliseconds(100))
      : fn_(std::move(fn)), interval_(interval) {}

  void update(const Progress& p) {
    if (!fn_) return;
    auto now = std::chrono::steady_clock::now();
    if (now - last_ < interval_) return;
    last_ = now;
    fn_(p);
  }
  void finish(const Progress& p) {
    if (fn_) fn_(p);
  }

 private:
  ProgressFn fn_;
  std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace restorekit

#pragma GCC visibility pop
