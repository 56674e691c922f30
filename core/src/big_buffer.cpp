#include "big_buffer.hpp"

#include <sys/mman.h>

#include <cstdlib>

namespace restorekit::core::detail {

namespace {
constexpr std::size_t kHugePage = std::size_t{2} << 20;
constexpr std::size_t kPage = 4096;
}  // namespace

std::byte* allocate_big(std::size_t n) {
  void* p = nullptr;
  if (n < kHugePage) {
    p = std::malloc(n == 0 ? 1 : n);
    if (!p) throw std::bad_alloc();
    return static_cast<std::byte*>(p);
  }
  if (posix_memalign(&p, kHugePage, n) != 0) throw std::bad_alloc();
  // Only the whole 2 MiB ranges inside the advised pages become huge pages, so a tail past the
  // last one stays in small pages rather than growing the resident size by up to 2 MiB.
  // madvise failing (a kernel without THP) leaves ordinary pages: nothing to report.
  (void)::madvise(p, (n + kPage - 1) & ~(kPage - 1), MADV_HUGEPAGE);
  return static_cast<std::byte*>(p);
}

void FreeBytes::operator()(std::byte* p) const noexcept {
  std::free(p);
}

}  // namespace restorekit::core::detail
