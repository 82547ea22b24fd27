// Hopper warpgroup MMA (wgmma, sm_90a): the four warps of a CTA multiply 64 rows at once, with B (and
// optionally A) read straight from shared memory through matrix descriptors. Tiles use the 128-byte
// swizzled canonical layout: each 64-element column block of a tile is stored as rows of 128 bytes,
// 16-byte chunk c of row r at chunk position c ^ (r & 7), blocks of 8 rows 1024 bytes apart.
#pragma once
#include "kernels/common/mma.cuh"

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define POD_HAS_WGMMA 1
#else
#define POD_HAS_WGMMA 0
#endif

namespace pod {

// Byte offset of 16-byte chunk `chunk` of row `row` in a 128-byte-swizzled tile of `rows` rows.
__device__ __forceinline__ uint32_t swizzle128_offset(int rows, int row, int chunk) {
  return static_cast<uint32_t>((chunk >> 3) * rows * 128 + row * 128 + (((chunk & 7) ^ (row & 7)) << 4));
}

// Shared-memory matrix descriptor for the 128-byte swizzle mode. The address must sit in a 1024-byte
// aligned swizzle pattern (plus a multiple of 32 bytes along K for K-major operands); offsets in bytes.
__device__ __forceinline__ uint64_t wgmma_desc(uint32_t addr, uint32_t leading, uint32_t stride) {
  return static_cast<uint64_t>((addr & 0x3FFFF) >> 4) | (static_cast<uint64_t>(leading >> 4) << 16) |
         (static_cast<uint64_t>(stride >> 4) << 32) | (1ull << 62);
}

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmma_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory"); }
// Makes this thread's ordinary shared-memory writes (cp.async, stores) visible to wgmma's reads.
__device__ __forceinline__ void fence_async_shared() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }

// Pins a register across an asynchronous wgmma: reads after this point see the completed result, and
// the register is not reused while the tensor cores may still read it.
__device__ __forceinline__ void hold(float& x) { asm volatile("" : "+f"(x)::"memory"); }
__device__ __forceinline__ void hold(uint32_t& x) { asm volatile("" : "+r"(x)::"memory"); }

}  // namespace pod
