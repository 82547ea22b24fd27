/* Parameters of the sm_90a POD kernel, shared by the shim (C) and the kernel (CUDA). A CTA takes one
 * task of one kind: a prefill work item (the sm_90a prefill CTA: a producer and two consumer
 * warpgroups) or POD_SM90_DECODE_SLOTS decode work items, each on a body of the sm_90a decode kernel
 * (160 threads) in its own slice of shared memory: an SM taking decode runs what two CTAs of the decode
 * kernel would. */
#ifndef POD_SM90_POD_PARAMS_H
#define POD_SM90_POD_PARAMS_H

#include "kernels/sm90/decode_params.h"
#include "kernels/sm90/prefill_params.h"

#define POD_SM90_DECODE_SLOTS 2

POD_HD int pod_sm90_pod_smem(int head_dim) {
  const int prefill = pod_sm90_prefill_smem(head_dim);
  const int decode = POD_SM90_DECODE_SLOTS * pod_sm90_decode_body_bytes(head_dim, 0) + 1024;
  return prefill > decode ? prefill : decode;
}

typedef struct pod_sm90_pod_params {
  pod_sm90_side_params prefill;
  pod_sm90_side_params decode; /* the decode side and TMA descriptors of its caches */
  int32_t prefill_tasks; /* prefill work items x KV heads */
  int32_t decode_ctas;   /* decode work items x KV heads */
  int32_t decode_tasks;  /* decode_ctas / POD_SM90_DECODE_SLOTS, rounded up */
  int32_t reserved;
  uint64_t counters;     /* pod_fused_counters in the workspace: zero between launches */
} pod_sm90_pod_params;

#endif
