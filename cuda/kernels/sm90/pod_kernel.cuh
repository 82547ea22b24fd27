// The sm_90a POD kernel: prefill and decode in one launch, one CTA per SM. A starting CTA claims the
// next task of the side that is behind (in the fraction of its tasks claimed), so both sides advance
// at the same relative pace and finish together, each on as many SMs as its share of the work: a
// prefill task is one sm_90a prefill CTA, a decode task two bodies of the sm_90a decode kernel side
// by side (what two CTAs of that kernel would run on the SM), each with its own slice of shared memory
// and named barriers.
#pragma once
#include "kernels/sm90/decode_kernel.cuh"
#include "kernels/sm90/pod_params.h"
#include "kernels/sm90/prefill_kernel.cuh"

namespace pod::sm90 {

// Thread 0 of a starting CTA: its side and task (-1: none left, which only launches of one plan
// overlapping on two streams can see). The last CTA to claim puts the counters back to zero.
__device__ __noinline__ void claim_pod_task(const pod_sm90_pod_params& F, int* claim) {
  pod_fused_counters* c = reinterpret_cast<pod_fused_counters*>(F.counters);
  const int tasks[2] = {F.prefill_tasks, F.decode_tasks};
  const int claimed_p = *reinterpret_cast<volatile int*>(&c->next[0]);
  const int claimed_d = *reinterpret_cast<volatile int*>(&c->next[1]);
  int side = (long long)claimed_p * tasks[1] <= (long long)claimed_d * tasks[0] ? 0 : 1;
  int task = atomicAdd(&c->next[side], 1);
  if (task < 0 || task >= tasks[side]) {
    side ^= 1;
    task = atomicAdd(&c->next[side], 1);
  }
  // No task left, or a queue head out of range: counters that were not zero when the launch began (the
  // plan in the workspace was overwritten, or launches of one plan overlap). Reported; the CTA idles.
  const bool ok = task >= 0 && task < tasks[side];
  claim[0] = side, claim[1] = ok ? task : -1;
  if (!ok) report_fault(F.decode.p.fault, POD_FAULT_BY_LAUNCH, POD_FAULT_COUNTER, blockIdx.x);
  __threadfence();
  const int done = atomicAdd(&c->done, 1), last = tasks[0] + tasks[1] - 1;
  if (done == last) {
    c->next[0] = 0, c->next[1] = 0, c->done = 0;
    __threadfence();
  } else if (done < 0 || done > last) {
    report_fault(F.decode.p.fault, POD_FAULT_BY_LAUNCH, POD_FAULT_COUNTER, blockIdx.x);
  }
}

__device__ __forceinline__ bool skipped(const pod_attn_params& p, const int cta) {
  return p.work && reinterpret_cast<const pod_work_item*>(p.work)[cta / p.num_kv_heads].skip;
}

template <typename T, int D, typename Score>
__device__ __forceinline__ void pod_cta(const pod_sm90_pod_params& F) {
#if POD_HAS_WGMMA
  __shared__ int claim[2];
  if (threadIdx.x == 0) claim_pod_task(F, claim);
  __syncthreads();
  const int side = claim[0], task = claim[1];
  if (task < 0) return;
  if (side == 0) {
    if (!skipped(F.prefill.p, task)) prefill_cta<T, D, Score>(F.prefill, task);
    return;
  }
  // A decode task: bodies of the sm_90a decode kernel side by side, each on its own 160 threads, slice
  // of shared memory and barriers; the threads past them have nothing to do.
  extern __shared__ __align__(128) uint8_t smem_raw[];
  __shared__ DecodeBarriers<DecodeTraits<D, 0>::kRing> bars[POD_SM90_DECODE_SLOTS];
  const int slot = threadIdx.x / POD_SM90_DECODE_THREADS, cta = task * POD_SM90_DECODE_SLOTS + slot;
  if (slot >= POD_SM90_DECODE_SLOTS || cta >= F.decode_ctas || skipped(F.decode.p, cta)) return;
  uint8_t* smem = smem_raw + ((1024 - (smem_addr(smem_raw) & 1023)) & 1023) + slot * DecodeTraits<D, 0>::kSlotBytes;
  if (F.decode.p.soft_cap > 0.0f) decode_body<T, D, ScoreSoftCap>(F.decode, cta, slot, smem, bars[slot]);
  else decode_body<T, D, ScorePlain>(F.decode, cta, slot, smem, bars[slot]);
#endif
}

}  // namespace pod::sm90

// pod_sm90_pod_<dtype>_<head_dim>[_softcap] (the prefill side's score variant): the shim's kernel
// table lists them.
#define POD_DEFINE_SM90_POD_VARIANT(T, NAME, D, SUFFIX, SCORE)                                  \
  extern "C" __global__ void __launch_bounds__(POD_SM90_THREADS, 1)                             \
      pod_sm90_pod_##NAME##_##D##SUFFIX(const __grid_constant__ pod_sm90_pod_params F) {        \
    pod_pdl_enter();                                                                            \
    pod::sm90::pod_cta<T, D, SCORE>(F);                                                         \
  }
#define POD_DEFINE_SM90_POD(T, NAME, D)                                \
  POD_DEFINE_SM90_POD_VARIANT(T, NAME, D, , pod::sm90::ScorePlain)     \
  POD_DEFINE_SM90_POD_VARIANT(T, NAME, D, _softcap, pod::sm90::ScoreSoftCap)
