// The memory behind SecretBytes: a pool of locked, guarded pages, mapped
// once per size class and grown rarely, so that a request allocates and
// frees its keys, shares and plaintexts without a system call.
//
// Rules it keeps:
//  1. Every block lies in a slab mapped with a PROT_NONE guard page on each
//     side, locked against swapping (mlock) where RLIMIT_MEMLOCK allows,
//     left out of core dumps and wiped in a forked child.
//  2. A block is wiped when it is freed; a free block is all zero, so an
//     allocation returns zeroed memory.
//  3. Slabs are never unmapped: the pool's size is the peak of what was in
//     use at once, within kMaxPoolBytes. Past that, allocation throws
//     std::bad_alloc, which the request path answers with RESOURCE_EXHAUSTED.
//  4. Blocks larger than the largest class get a mapping of their own,
//     guarded and locked the same way, unmapped (after wiping) when freed.
//  5. Thread-safe: one mutex per size class, held for a few instructions.
//     Under AddressSanitizer, free blocks and the tail of each block are
//     poisoned, so a use after free or an overflow is still reported.
#pragma once

#include <cstddef>

namespace trousseau::secret_pool {

/// The largest block a size class serves; anything larger is mapped alone.
inline constexpr std::size_t kLargestClass = 64 * 1024;
/// Everything the pool may map, slabs and large blocks together.
inline constexpr std::size_t kMaxPoolBytes = 256 * 1024 * 1024;

/// `size` zeroed bytes (size > 0). Throws std::bad_alloc when the pool is
/// at kMaxPoolBytes or the system refuses a mapping.
void* allocate(std::size_t size);

/// Wipes and returns a block; `size` is what allocate() was asked for.
void release(void* block, std::size_t size) noexcept;

struct Stats {
  std::size_t mapped_bytes = 0;    ///< slabs and large blocks, guards excluded
  std::size_t locked_bytes = 0;    ///< of which mlock succeeded
  std::size_t mappings = 0;        ///< mmap calls so far: grows rarely
  std::size_t blocks_in_use = 0;
};
Stats stats();

}  // namespace trousseau::secret_pool
