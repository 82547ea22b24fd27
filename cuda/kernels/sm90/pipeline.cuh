// Synchronization of the sm_90a kernels: mbarriers guarding the shared-memory ring that TMA fills,
// the tensor copies themselves (typed wrappers of <cuda/ptx>), named barriers for warpgroups, and the
// register budget moves between producer and consumer warpgroups.
#pragma once
#include <cuda/ptx>
#include <stdint.h>

#include "kernels/common/wgmma.cuh"

namespace pod::sm90 {
namespace ptx = cuda::ptx;

#if POD_HAS_WGMMA
__device__ __forceinline__ void bar_init(uint64_t* bar, uint32_t count) { ptx::mbarrier_init(bar, count); }
// Makes the initialized barriers visible to the tensor copy unit and the other threads' waits.
__device__ __forceinline__ void bar_init_fence() { ptx::fence_mbarrier_init(ptx::sem_release, ptx::scope_cluster); }
// Waits until the phase of parity `parity` has completed. A fresh barrier counts its phase of parity 1
// as completed, so a producer's first wait on an empty slot passes at once.
__device__ __forceinline__ void bar_wait(uint64_t* bar, uint32_t parity) {
  while (!ptx::mbarrier_try_wait_parity(bar, parity)) {
  }
}
__device__ __forceinline__ void bar_arrive(uint64_t* bar) { (void)ptx::mbarrier_arrive(bar); }
// The producer's arrival on a full barrier: the phase completes once `bytes` have landed as well.
__device__ __forceinline__ void bar_expect(uint64_t* bar, uint32_t bytes) {
  (void)ptx::mbarrier_arrive_expect_tx(ptx::sem_release, ptx::scope_cta, ptx::space_shared, bar, bytes);
}
// One TMA box of a rank-3 or rank-4 map into shared memory, counted on `bar`.
__device__ __forceinline__ void tma_load(void* dst, const void* map, int c0, int c1, int c2, uint64_t* bar) {
  const int32_t c[3] = {c0, c1, c2};
  ptx::cp_async_bulk_tensor(ptx::space_cluster, ptx::space_global, dst, map, c, bar);
}
__device__ __forceinline__ void tma_load(void* dst, const void* map, int c0, int c1, int c2, int c3, uint64_t* bar) {
  const int32_t c[4] = {c0, c1, c2, c3};
  ptx::cp_async_bulk_tensor(ptx::space_cluster, ptx::space_global, dst, map, c, bar);
}
#endif

// Barrier `id` (1..15; 0 is __syncthreads) among `threads` threads, whole warps.
__device__ __forceinline__ void named_sync(int id, int threads) { asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory"); }

// Arrives on barrier `id` without waiting (the other party of a named_sync).
__device__ __forceinline__ void named_arrive(int id, int threads) { asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory"); }

// Register budget of the calling warpgroup (every thread of it executes the instruction).
template <int R>
__device__ __forceinline__ void regs_down() {
#if POD_HAS_WGMMA
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(R));
#endif
}
template <int R>
__device__ __forceinline__ void regs_up() {
#if POD_HAS_WGMMA
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(R));
#endif
}

}  // namespace pod::sm90
