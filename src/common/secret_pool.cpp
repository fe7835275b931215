#include "common/secret_pool.hpp"

#include <sodium.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <new>
#include <vector>

#include "common/log.hpp"
#include "common/sanitizers.hpp"

#if defined(TROUSSEAU_ASAN)
#include <sanitizer/asan_interface.h>
#define TROUSSEAU_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define TROUSSEAU_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define TROUSSEAU_POISON(p, n) ((void)(p), (void)(n))
#define TROUSSEAU_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace trousseau::secret_pool {

namespace {

constexpr std::size_t kSmallestClass = 32;
constexpr std::size_t kClasses = 12;  // 32 B … 64 KiB, powers of two
static_assert((kSmallestClass << (kClasses - 1)) == kLargestClass);

constexpr std::size_t kFirstSlab = 64 * 1024;
constexpr std::size_t kLargestSlab = 1024 * 1024;
constexpr std::size_t kMinBlocksPerSlab = 8;

std::size_t page_size() {
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

std::size_t round_to_pages(std::size_t n) {
  const std::size_t page = page_size();
  return (n + page - 1) / page * page;
}

std::size_t class_size(std::size_t c) { return kSmallestClass << c; }

std::size_t class_of(std::size_t size) {
  std::size_t c = 0;
  while (class_size(c) < size) ++c;
  return c;
}

struct SizeClass {
  std::mutex mutex;
  std::vector<std::uint8_t*> free;  // LIFO; capacity covers every block, so
                                    // release() never allocates
  std::size_t blocks = 0;           // in all slabs of this class
  std::size_t next_slab = 0;        // bytes of the next slab
};

struct Pool {
  std::array<SizeClass, kClasses> classes;
  std::atomic<std::size_t> mapped{0};
  std::atomic<std::size_t> locked{0};
  std::atomic<std::size_t> mappings{0};
  std::atomic<std::size_t> in_use{0};
  std::once_flag unlocked_warning;
};

// Never destroyed: a SecretBytes in a static may be freed after main.
Pool& pool() {
  static Pool* p = new Pool;
  return *p;
}

/// Counts `bytes` against kMaxPoolBytes, or throws.
void reserve(Pool& p, std::size_t bytes) {
  std::size_t now = p.mapped.load(std::memory_order_relaxed);
  do {
    if (bytes > kMaxPoolBytes - now) throw std::bad_alloc();
  } while (!p.mapped.compare_exchange_weak(now, now + bytes, std::memory_order_relaxed));
}

/// Maps `size` bytes (whole pages) between two PROT_NONE guard pages,
/// locked where the limit allows. The memory is zero.
std::uint8_t* map_guarded(Pool& p, std::size_t size) {
  reserve(p, size);
  const std::size_t page = page_size();
  void* base = ::mmap(nullptr, size + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) {
    p.mapped.fetch_sub(size, std::memory_order_relaxed);
    throw std::bad_alloc();
  }
  auto* data = static_cast<std::uint8_t*>(base) + page;
  if (::mprotect(data, size, PROT_READ | PROT_WRITE) != 0) {
    ::munmap(base, size + 2 * page);
    p.mapped.fetch_sub(size, std::memory_order_relaxed);
    throw std::bad_alloc();
  }
  // Best effort, like mlock: older kernels lack MADV_WIPEONFORK.
  (void)::madvise(data, size, MADV_DONTDUMP);
  (void)::madvise(data, size, MADV_WIPEONFORK);
  if (::mlock(data, size) == 0) {
    p.locked.fetch_add(size, std::memory_order_relaxed);
  } else {
    std::call_once(p.unlocked_warning, [&] {
      log::warn("cannot lock secret memory: it may be swapped; raise RLIMIT_MEMLOCK",
                {{"bytes", size}, {"mapped", p.mapped.load()}});
    });
  }
  p.mappings.fetch_add(1, std::memory_order_relaxed);
  return data;
}

void unmap_guarded(Pool& p, std::uint8_t* data, std::size_t size) {
  const std::size_t page = page_size();
  if (::munlock(data, size) == 0) p.locked.fetch_sub(size, std::memory_order_relaxed);
  ::munmap(data - page, size + 2 * page);
  p.mapped.fetch_sub(size, std::memory_order_relaxed);
}

/// Adds a slab to `sc` (its mutex held).
void grow(Pool& p, SizeClass& sc, std::size_t c) {
  const std::size_t block = class_size(c);
  if (sc.next_slab == 0) sc.next_slab = std::max(kFirstSlab, kMinBlocksPerSlab * block);
  const std::size_t slab = sc.next_slab;
  const std::size_t count = slab / block;
  sc.free.reserve(sc.blocks + count);  // before mapping: nothing to undo if it throws
  std::uint8_t* data = map_guarded(p, slab);
  TROUSSEAU_POISON(data, slab);
  // Lowest address on top, so that blocks are handed out in order.
  for (std::size_t i = count; i-- > 0;) sc.free.push_back(data + i * block);
  sc.blocks += count;
  sc.next_slab = std::min(slab * 2, std::max(kLargestSlab, kMinBlocksPerSlab * block));
}

}  // namespace

void* allocate(std::size_t size) {
  Pool& p = pool();
  std::uint8_t* block = nullptr;
  if (size > kLargestClass) {
    block = map_guarded(p, round_to_pages(size));
  } else {
    const std::size_t c = class_of(size);
    SizeClass& sc = p.classes[c];
    std::lock_guard lock(sc.mutex);
    if (sc.free.empty()) grow(p, sc, c);
    block = sc.free.back();
    sc.free.pop_back();
    TROUSSEAU_UNPOISON(block, size);
  }
  p.in_use.fetch_add(1, std::memory_order_relaxed);
  return block;
}

void release(void* block, std::size_t size) noexcept {
  Pool& p = pool();
  auto* bytes = static_cast<std::uint8_t*>(block);
  // Only the first `size` bytes were handed out; the rest is still zero.
  sodium_memzero(bytes, size);
  if (size > kLargestClass) {
    unmap_guarded(p, bytes, round_to_pages(size));
  } else {
    const std::size_t c = class_of(size);
    TROUSSEAU_POISON(bytes, class_size(c));
    SizeClass& sc = p.classes[c];
    std::lock_guard lock(sc.mutex);
    sc.free.push_back(bytes);  // capacity reserved in grow(): cannot throw
  }
  p.in_use.fetch_sub(1, std::memory_order_relaxed);
}

Stats stats() {
  Pool& p = pool();
  return {p.mapped.load(), p.locked.load(), p.mappings.load(), p.in_use.load()};
}

}  // namespace trousseau::secret_pool
