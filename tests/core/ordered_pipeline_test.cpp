// OrderedPipeline (core/src): input order survives any preparation order, errors arrive in
// their place and stay, and stopping early ends the workers without taking more input.
#include "ordered_pipeline.hpp"

#include <atomic>
#include <chrono>
#include <mutex>
#include <new>
#include <random>
#include <thread>

#include <gtest/gtest.h>

namespace restorekit::core {
namespace {

struct Item {
  int seq = -1;
  long value = 0;
};

// An input of `count` numbers; fill takes the next one.
class Counter {
 public:
  explicit Counter(int count) : count_(count) {}
  Result<bool> fill(Item& item) {
    if (next_ == count_) return false;
    item.seq = next_++;
    return true;
  }
  [[nodiscard]] int taken() const { return next_; }

 private:
  int count_;
  int next_ = 0;  // only under the pipeline's input lock
};

// Prepares items in an order unrelated to the input: a random pause per item.
Result<void> square_slowly(Item& item) {
  thread_local std::mt19937 rng(std::random_device{}());
  std::this_thread::sleep_for(std::chrono::microseconds(rng() % 400));
  item.value = static_cast<long>(item.seq) * item.seq;
  return {};
}

TEST(OrderedPipeline, HandsOutEveryItemInInputOrderWhateverOrderTheyAreReadyIn) {
  for (std::size_t workers : {1, 2, 4}) {
    Counter input(300);
    OrderedPipeline<Item> pipeline(
        "numbers", workers + 1, workers, [&](Item& i) { return input.fill(i); }, square_slowly);
    for (int expected = 0; expected < 300; ++expected) {
      auto item = pipeline.next();
      ASSERT_TRUE(item.has_value()) << item.error().message;
      ASSERT_NE(*item, nullptr) << "ended early at " << expected;
      EXPECT_EQ((*item)->seq, expected) << workers << " workers";
      EXPECT_EQ((*item)->value, static_cast<long>(expected) * expected);
    }
    auto end = pipeline.next();
    ASSERT_TRUE(end.has_value());
    EXPECT_EQ(*end, nullptr);
    EXPECT_EQ(*pipeline.next(), nullptr) << "the end stays the end";
  }
}

TEST(OrderedPipeline, AnInputErrorComesAfterEveryItemBeforeItAndStays) {
  Counter input(1000);
  auto fill = [&](Item& i) -> Result<bool> {
    if (input.taken() == 37) return fail(ErrorCode::kIo, "the disk went away", "numbers");
    return input.fill(i);
  };
  OrderedPipeline<Item> pipeline("numbers", 4, 3, fill, square_slowly);
  for (int expected = 0; expected < 37; ++expected) {
    auto item = pipeline.next();
    ASSERT_TRUE(item.has_value()) << "at " << expected << ": " << item.error().message;
    ASSERT_NE(*item, nullptr);
    EXPECT_EQ((*item)->seq, expected);
  }
  for (int again = 0; again < 2; ++again) {
    auto failed = pipeline.next();
    ASSERT_FALSE(failed.has_value());
    EXPECT_EQ(failed.error().code, ErrorCode::kIo);
    EXPECT_EQ(failed.error().message, "the disk went away");
  }
  EXPECT_EQ(input.taken(), 37) << "nothing is taken after the input failed";
}

TEST(OrderedPipeline, APreparationErrorArrivesInItsItemsTurnAndStays) {
  Counter input(100);
  auto prepare = [](Item& i) -> Result<void> {
    if (i.seq == 20) return fail(ErrorCode::kCorruptData, "item 20 is damaged", "numbers");
    return square_slowly(i);
  };
  OrderedPipeline<Item> pipeline(
      "numbers", 5, 4, [&](Item& i) { return input.fill(i); }, prepare);
  for (int expected = 0; expected < 20; ++expected) {
    auto item = pipeline.next();
    ASSERT_TRUE(item.has_value()) << "at " << expected << ": " << item.error().message;
    EXPECT_EQ((*item)->seq, expected);
  }
  for (int again = 0; again < 2; ++again) {
    auto failed = pipeline.next();
    ASSERT_FALSE(failed.has_value());
    EXPECT_EQ(failed.error().code, ErrorCode::kCorruptData);
  }
}

TEST(OrderedPipeline, AnExceptionInAWorkerBecomesAnErrorNamingTheSource) {
  Counter input(10);
  auto prepare = [](Item& i) -> Result<void> {
    if (i.seq == 3) throw std::bad_alloc();
    return {};
  };
  OrderedPipeline<Item> pipeline(
      "backup.tar.zst", 3, 2, [&](Item& i) { return input.fill(i); }, prepare);
  for (int expected = 0; expected < 3; ++expected) ASSERT_TRUE(pipeline.next().has_value());
  auto failed = pipeline.next();
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code, ErrorCode::kInternal);
  EXPECT_NE(failed.error().message.find("backup.tar.zst"), std::string::npos)
      << failed.error().message;
}

TEST(OrderedPipeline, StoppingEarlyEndsTheWorkersAndTakesNoMoreInput) {
  std::atomic<int> filled{0};
  Counter input(1'000'000);
  auto fill = [&](Item& i) {
    ++filled;
    return input.fill(i);
  };
  auto pipeline = std::make_unique<OrderedPipeline<Item>>("numbers", 5, 4, fill, square_slowly);
  ASSERT_EQ((*pipeline->next())->seq, 0);
  pipeline->stop();  // workers wait for free slots, or are inside fill/prepare
  int after_stop = filled.load();
  EXPECT_LE(after_stop, 5 + 4) << "slots bound how far the workers read ahead";
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(filled.load(), after_stop);
  pipeline.reset();  // a second stop in the destructor is harmless
}

TEST(OrderedPipeline, DestroyedWithoutEverBeingReadStartsNothing) {
  std::atomic<int> filled{0};
  {
    OrderedPipeline<Item> pipeline(
        "numbers", 3, 2,
        [&](Item&) -> Result<bool> {
          ++filled;
          return true;
        },
        square_slowly);
  }
  EXPECT_EQ(filled.load(), 0);
}

}  // namespace
}  // namespace restorekit::core
