// Tile shapes of the sm_90a prefill per head_dim: what one CTA holds and how its threads split.
#pragma once
#include "kernels/sm90/prefill_params.h"

namespace pod::sm90 {

template <typename T, int D>
struct PrefillTraits {
  static_assert(D == 64 || D == 128 || D == 256, "the sm_90a prefill covers head_dim 64, 128 and 256");
  static_assert(sizeof(T) == 2, "16-bit queries, keys and values");
  static constexpr int kRows = POD_SM90_ROWS;       // packed query rows of a CTA: two consumers of 64
  static constexpr int kKeys = pod_sm90_keys(D);    // keys of a K/V tile
  static constexpr int kStages = pod_sm90_stages(D);
  static constexpr int kBlocks = D / 64;            // 128-byte column blocks of a row (swizzle atoms)
  static constexpr int kQBytes = kRows * D * 2;
  static constexpr int kTileBytes = kKeys * D * 2;  // one K (or V) tile
  static constexpr int kThreads = POD_SM90_THREADS;
  static constexpr int kConsumerThreads = kThreads - 128;
  // Registers moved from the producer warpgroup, which only issues copies, to the two consumers,
  // whose S and O accumulators (64 floats each) and P fragments live in registers.
  static constexpr int kProducerRegs = 40, kConsumerRegs = 232;
  // setmaxnreg only moves registers within what the CTA was launched with (168 per thread: 384
  // threads, one CTA per SM); asking for more blocks the consumers forever.
  static_assert(128 * kProducerRegs + kConsumerThreads * kConsumerRegs <= kThreads * 168, "the registers of the launch");
  static_assert(pod_sm90_prefill_smem(D) == kQBytes + 2 * kStages * kTileBytes + 1024, "the shim's size");
};

}  // namespace pod::sm90
