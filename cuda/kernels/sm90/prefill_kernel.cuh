// The sm_90a prefill kernel: a warp-specialized CTA (one producer warpgroup feeding two consumer
// warpgroups through a TMA + mbarrier ring), one per SM. It takes the same work items as the
// portable kernel (128 packed rows per row tile), so the planner's schedules, split key ranges and
// merges serve both.
#pragma once
#include "kernels/common/pdl.cuh"
#include "kernels/sm90/prefill_epilogue.cuh"

namespace pod::sm90 {

// The CTA computes work item `cta` (row tile x KV head) of the side.
template <typename T, int D, typename Score>
__device__ __forceinline__ void prefill_cta(const pod_sm90_side_params& P, const int cta) {
#if POD_HAS_WGMMA
  using Tr = PrefillTraits<T, D>;
  extern __shared__ __align__(128) uint8_t smem_raw[];
  uint8_t* smem = smem_raw + ((1024 - (smem_addr(smem_raw) & 1023)) & 1023);  // swizzle patterns on 1024 bytes
  uint8_t* sQ = smem;
  uint8_t* sK = sQ + Tr::kQBytes;
  uint8_t* sV = sK + Tr::kStages * Tr::kTileBytes;
  __shared__ PrefillBarriers<Tr::kStages> bars;

  // Thread 0 reads and checks the work item (work_tile.cuh); every thread takes the same tile, so
  // that producer and consumers agree on the tiles they pass through the barriers.
  if (threadIdx.x == 0) {
    bars.tile_ok = load_work_tile(P.p, cta, Tr::kRows, &bars.tile);
    bars.bad = 0;
    // Arrivals: the query loaders; per tile, the operand's expect-tx arrival or its 64 gatherers.
    const bool gather = gathers_pages(P);
    bar_init(&bars.q_full, gather ? 128 : 96);
#pragma unroll
    for (int s = 0; s < Tr::kStages; s++) {
      bar_init(&bars.k_full[s], gather ? 64 : 1);
      bar_init(&bars.v_full[s], gather ? 64 : 1);
      bar_init(&bars.k_empty[s], Tr::kConsumerThreads / 32);  // one arrival per consumer warp
      bar_init(&bars.v_empty[s], Tr::kConsumerThreads / 32);
    }
    bar_init_fence();
  }
  __syncthreads();
  if (!bars.tile_ok) return;
  const WorkTile w = bars.tile;
  const TileRange tr = tile_range<Tr::kKeys>(P.p, w);
  if (threadIdx.x < 128) {
    regs_down<Tr::kProducerRegs>();
    produce<T, D>(P, w, tr, sQ, sK, sV, bars);
    return;
  }
  regs_up<Tr::kConsumerRegs>();
  ConsumerResult<D, Tr::kKeys> res;
  consume<T, D, Score>(P, w, tr, sQ, sK, sV, bars, res);
  // The producers set `bad` before the arrivals the consumers' last waits saw: every consumer reads
  // the same value here.
  if (*reinterpret_cast<volatile int*>(&bars.bad)) {
    if (threadIdx.x == 128) report_fault(P.p.fault, P.p.side, POD_FAULT_PAGE_ID, cta / P.p.num_kv_heads);
    return;
  }
  store_output<T, D>(P.p, w, res, sQ);
  if (w.partial >= 0) {
    // The last part of a split row tile to finish merges them all (one launch, no merge kernel).
    const int ctid = threadIdx.x - 128;
    pod_merge_item* item = reinterpret_cast<pod_merge_item*>(P.p.merge) + w.merge;
    __threadfence();  // this part's results are visible before it counts as arrived
    named_sync(3, Tr::kConsumerThreads);
    if (ctid == 0) bars.merges_here = last_part_arrived(item, P.p);
    named_sync(3, Tr::kConsumerThreads);
    if (bars.merges_here) {
      __threadfence();
      merge_rows<T, D, Tr::kConsumerThreads>(merge_args(P.p, Tr::kRows), w.merge, ctid);
    }
  }
#endif
}

}  // namespace pod::sm90

// pod_sm90_prefill_<dtype>_<head_dim>[_softcap]: the kernel table in the shim lists them.
#define POD_DEFINE_SM90_PREFILL_VARIANT(T, NAME, D, SUFFIX, SCORE)                                                   \
  extern "C" __global__ void __launch_bounds__(POD_SM90_THREADS, 1)                                                  \
      pod_sm90_prefill_##NAME##_##D##SUFFIX(const __grid_constant__ pod_sm90_side_params P) {                     \
    pod_pdl_enter();                                                                                                 \
    if (P.p.work && reinterpret_cast<const pod_work_item*>(P.p.work)[blockIdx.x / P.p.num_kv_heads].skip) return;    \
    pod::sm90::prefill_cta<T, D, SCORE>(P, blockIdx.x);                                                              \
  }
#define POD_DEFINE_SM90_PREFILL(T, NAME, D)                                      \
  POD_DEFINE_SM90_PREFILL_VARIANT(T, NAME, D, , pod::sm90::ScorePlain)           \
  POD_DEFINE_SM90_PREFILL_VARIANT(T, NAME, D, _softcap, pod::sm90::ScoreSoftCap)
