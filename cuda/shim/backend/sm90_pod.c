/* The sm_90a POD launch: eligibility, parameters, grid. */
#include <string.h>

#include "kernels/sm90/pod_params.h"
#include "shim/backend/sm90_decode.h"
#include "shim/backend/sm90_pod.h"
#include "shim/backend/sm90_prefill.h"
#include "shim/runtime/cuda_driver.h"
#include "shim/runtime/error.h"

int pod_sm90_pod_takes(int32_t device, const pod_side* prefill, const pod_attn_params* pp, int32_t tile_p, const pod_side* decode,
                       const pod_attn_params* pd, int32_t tile_d) {
  if (tile_p != POD_TILE_PREFILL || tile_d != POD_TILE_DECODE) return 0;
  if (decode->q.dtype != prefill->q.dtype || decode->k.dtype != decode->q.dtype || decode->v.dtype != decode->q.dtype) return 0;
  if (decode->head_dim != prefill->head_dim || !pod_sm90_pod_built(prefill->q.dtype, prefill->head_dim)) return 0;
  /* The launch's decode bodies score plainly or with a soft cap. */
  if (decode->options.pos_encoding != POD_POS_NONE) return 0;
  return pod_sm90_prefill_takes(device, prefill, pp) && pod_sm90_decode_takes(device, decode, pd);
}

int32_t pod_sm90_pod_launch(int32_t device, const pod_side* prefill, const pod_attn_params* pp, int64_t ctas_p, const pod_side* decode,
                            const pod_attn_params* pd, int64_t ctas_d, uint64_t counters, void* stream) {
  const int64_t decode_tasks = (ctas_d + POD_SM90_DECODE_SLOTS - 1) / POD_SM90_DECODE_SLOTS;
  if (ctas_p + decode_tasks > INT32_MAX) return pod_fail(POD_ERR_INVALID_ARGUMENT, "q_p: the two sides need more CTAs than one launch holds");
  pod_sm90_pod_params F;
  memset(&F, 0, sizeof F);
  int32_t st;
  if ((st = pod_sm90_prefill_prepare(prefill, pp, "p", &F.prefill))) return st;
  if ((st = pod_sm90_side_prepare(decode, pd, "d", POD_SM90_DECODE_KEYS, POD_SM90_DECODE_L2, &F.decode))) return st;
  F.prefill_tasks = (int32_t)ctas_p;
  F.decode_ctas = (int32_t)ctas_d;
  F.decode_tasks = (int32_t)decode_tasks;
  F.counters = counters;
  CUfunction fn;
  const char* name;
  if ((st = pod_sm90_pod_kernel(device, prefill->q.dtype, prefill->head_dim, pp->soft_cap > 0.0f, &fn, &name))) return st;
  void* params[] = {&F};
  return pod_cuda_launch(fn, (unsigned)(ctas_p + decode_tasks), 1, 1, POD_SM90_THREADS, (unsigned)pod_sm90_pod_smem(prefill->head_dim),
                         (CUstream)stream, params, name);
}
