/* Parameters of the sm_90a POD kernel, shared by the shim (C) and the kernel (CUDA). A CTA takes one
 * task of one kind: a prefill work item (the sm_90a prefill CTA: a producer and two consumer
 * warpgroups) or POD_SM90_DECODE_SLOTS decode work items, one per warpgroup of the first ones, each in its own slice of
 * shared memory. Each kind sets the register budget of its warpgroups itself. */
#ifndef POD_SM90_POD_PARAMS_H
#define POD_SM90_POD_PARAMS_H

#include "kernels/sm90/prefill_params.h"

/* Two decode bodies per decode task, on warpgroups 0 and 1 with 232 registers each (the third
 * warpgroup hands its registers over: a decode body at the launch's 168 spills in its key loop). */
#define POD_SM90_DECODE_SLOTS 2
#define POD_SM90_DECODE_REGS 232
#define POD_SM90_IDLE_REGS 24
/* K/V tiles per decode body (all but one in flight): as many as two slices of shared memory hold. */
POD_HD int pod_sm90_decode_stages(int head_dim) { return head_dim <= 64 ? 6 : 3; }

POD_HD int pod_sm90_pod_smem(int head_dim) {
  const int prefill = pod_sm90_prefill_smem(head_dim);
  const int decode = POD_SM90_DECODE_SLOTS * pod_decode_slot_bytes(head_dim, pod_sm90_decode_stages(head_dim), 0);
  return prefill > decode ? prefill : decode;
}

typedef struct pod_sm90_pod_params {
  pod_sm90_prefill_params prefill;
  pod_attn_params decode;
  int32_t prefill_tasks; /* prefill work items x KV heads */
  int32_t decode_ctas;   /* decode work items x KV heads */
  int32_t decode_tasks;  /* decode_ctas / POD_SM90_DECODE_SLOTS, rounded up */
  int32_t reserved;
  uint64_t counters;     /* pod_fused_counters in the workspace: zero between launches */
} pod_sm90_pod_params;

#endif
