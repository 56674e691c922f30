// Buffers of a few MiB that a pass allocates once and fills again and again (decoded frames,
// chunks read or decoded ahead; private to core). Where the kernel gives transparent huge pages
// on request (/sys/kernel/mm/transparent_hugepage/enabled: "madvise" or "always"), each aligned
// 2 MiB of one is a single huge page: its first touch is one page fault instead of 512. On the
// sample's documents backup the 4 KiB faults of these buffers were 7% of verify's CPU.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace restorekit::core::detail {

// `n` bytes, not zeroed; from 2 MiB up aligned to 2 MiB and advised as huge pages (the advice
// is only a hint: where the kernel declines, the buffer is ordinary memory). Freed with free().
// @throws std::bad_alloc.
[[nodiscard]] std::byte* allocate_big(std::size_t n);

struct FreeBytes {
  void operator()(std::byte* p) const noexcept;
};
using BigBuffer = std::unique_ptr<std::byte[], FreeBytes>;

[[nodiscard]] inline BigBuffer make_big_buffer(std::size_t n) {
  return BigBuffer(allocate_big(n));
}

// A vector's allocator from allocate_big() whose resize() leaves the new bytes as they are: a
// frame's buffer grows to take a read straight into it, and zeroing it first cost as much as
// the copy the read spares.
template <class T>
struct BigAllocator {
  using value_type = T;
  BigAllocator() = default;
  template <class U>
  BigAllocator(const BigAllocator<U>&) noexcept {}  // NOLINT(google-explicit-constructor)
  T* allocate(std::size_t n) { return reinterpret_cast<T*>(allocate_big(n * sizeof(T))); }
  void deallocate(T* p, std::size_t) noexcept { FreeBytes{}(reinterpret_cast<std::byte*>(p)); }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    if constexpr (sizeof...(Args) == 0) {
      ::new (static_cast<void*>(p)) U;  // default-initialised: left as it is
    } else {
      ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
  }
  template <class U>
  bool operator==(const BigAllocator<U>&) const noexcept {
    return true;
  }
};
using ByteBuffer = std::vector<std::byte, BigAllocator<std::byte>>;

}  // namespace restorekit::core::detail
