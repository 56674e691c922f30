// OrderedPipeline (private to core): items taken from one sequential input and made ready by
// worker threads, handed to one consumer in input order. The decoders use it to read ahead.
//
// Lifecycle: construct with the slot and worker counts and two callbacks; call next() until it
// returns nullptr (the end) or an error; stop() (or the destructor) ends the workers, after
// which the input belongs to the caller again.
//
// Each worker takes a free slot and calls fill(item) under the input lock: fill takes the next
// piece of input into the item (its place in the hand-out order is taken there, so order never
// depends on which worker is faster) and returns false where the input ends, or where the
// pipeline should stop taking input. prepare(item) then runs outside the input lock, several at
// once. An error from fill ends the input: next() returns it after every item before it. An
// error from prepare is returned by next() when that item's turn comes. Both errors are sticky.
// An exception from a callback (out of memory) becomes such an error, naming `source`.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <restorekit/core/error.hpp>

namespace restorekit::core {

template <class Item>
class OrderedPipeline {
 public:
  using Fill = std::function<Result<bool>(Item&)>;
  using Prepare = std::function<Result<void>(Item&)>;

  // `slots` items are in circulation (one of them with the consumer), filled by `workers`
  // threads (at least 1, fewer than `slots`); threads start at the first next().
  OrderedPipeline(std::string source, std::size_t slots, std::size_t workers, Fill fill,
                  Prepare prepare)
      : source_(std::move(source)),
        cells_(slots),
        workers_wanted_(workers),
        fill_(std::move(fill)),
        prepare_(std::move(prepare)) {
    for (auto& cell : cells_) free_.push_back(&cell);
  }
  // One worker that fills each item whole: nothing left to prepare (a read-ahead).
  OrderedPipeline(std::string source, std::size_t slots, Fill fill)
      : OrderedPipeline(std::move(source), slots, 1, std::move(fill),
                        [](Item&) { return Result<void>{}; }) {}
  ~OrderedPipeline() { stop(); }
  OrderedPipeline(const OrderedPipeline&) = delete;
  OrderedPipeline& operator=(const OrderedPipeline&) = delete;

  // The next ready item, in input order, valid until the next call; nullptr once the input
  // ended. The item handed out before goes back to the free slots.
  Result<Item*> next() {
    std::unique_lock lock(mutex_);
    if (handed_out_) {
      free_.push_back(flight_.front());
      flight_.pop_front();
      handed_out_ = false;
      cv_.notify_all();
    }
    if (threads_.empty() && !closed_) start();
    cv_.wait(lock, [&] {
      return (!flight_.empty() && flight_.front()->state != State::kPreparing) ||
             (flight_.empty() && closed_);
    });
    if (flight_.empty()) {
      if (fill_error_) return tl::unexpected(*fill_error_);
      return nullptr;
    }
    Cell* front = flight_.front();
    if (front->state == State::kFailed) return tl::unexpected(*front->error);
    handed_out_ = true;
    return &front->item;
  }

  // Ends the workers (an item being prepared is finished first); nothing more is filled.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  enum class State { kPreparing, kReady, kFailed };
  struct Cell {
    Item item;
    State state = State::kPreparing;
    std::optional<Error> error;
  };

  void start() {
    for (std::size_t i = 0; i < workers_wanted_; ++i) threads_.emplace_back([this] { work(); });
  }

  void work() {
    for (;;) {
      Cell* cell = take_free();
      if (!cell) return;
      std::unique_lock input(input_mutex_);
      if (!fill_in_order(*cell)) return;
      input.unlock();
      auto prepared = guarded(prepare_, cell->item);
      std::lock_guard lock(mutex_);
      cell->state = prepared ? State::kReady : State::kFailed;
      if (!prepared) cell->error = prepared.error();
      cv_.notify_all();
    }
  }

  Cell* take_free() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return closed_ || !free_.empty(); });
    if (closed_) return nullptr;
    Cell* cell = free_.front();
    free_.pop_front();
    return cell;
  }

  // Under the input lock: fills `cell` and queues it. @return false when this worker ends
  // (the input ended or failed, or the pipeline is stopping), the cell back with the free ones.
  bool fill_in_order(Cell& cell) {
    {
      std::lock_guard lock(mutex_);
      if (closed_) return give_back(cell);  // another worker met the end meanwhile
    }
    auto filled = guarded(fill_, cell.item);
    std::lock_guard lock(mutex_);
    if (closed_ || !filled || !*filled) {  // closed_ here: stop() was called meanwhile
      if (!filled && !closed_) fill_error_ = filled.error();
      closed_ = true;
      return give_back(cell);
    }
    cell.state = State::kPreparing;
    flight_.push_back(&cell);  // under both locks: flight_ keeps the order of the input
    return true;
  }

  template <class F>
  auto guarded(const F& f, Item& item) -> decltype(f(item)) {
    try {
      return f(item);
    } catch (const std::exception& e) {
      return fail(ErrorCode::kInternal,
                  fmt::format("reading ahead in {} failed: {}", source_, e.what()), source_);
    }
  }

  bool give_back(Cell& cell) {  // with mutex_ held
    free_.push_back(&cell);
    cv_.notify_all();
    return false;
  }

  std::string source_;
  std::vector<Cell> cells_;
  std::size_t workers_wanted_;
  Fill fill_;
  Prepare prepare_;
  std::mutex input_mutex_;  // held by the worker inside fill_
  std::mutex mutex_;        // guards what follows
  std::condition_variable cv_;
  std::deque<Cell*> free_;
  std::deque<Cell*> flight_;  // filled items, in input order
  bool handed_out_ = false;   // the front item is with the consumer
  bool closed_ = false;       // nothing more is filled
  std::optional<Error> fill_error_;
  std::vector<std::thread> threads_;
};

}  // namespace restorekit::core
