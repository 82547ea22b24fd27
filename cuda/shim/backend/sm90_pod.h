/* The sm_90a POD launch (kernels/sm90/pod_kernel.cuh): prefill CTAs of the sm_90a prefill kernel and
 * decode CTAs of POD_SM90_DECODE_SLOTS bodies of the sm_90a decode kernel each, in one grid. */
#ifndef POD_SM90_POD_H
#define POD_SM90_POD_H

#include "kernels/attention_params.h"
#include "shim/attention_problem.h"

/* Whether it takes the two sides, given their built parameters and tile shapes: a prefill side the
 * sm_90a prefill takes and a decode side of the same dtype and head_dim the sm_90a decode takes. */
int pod_sm90_pod_takes(int32_t device, const pod_side* prefill, const pod_attn_params* pp, int32_t tile_p, const pod_side* decode,
                       const pod_attn_params* pd, int32_t tile_d);
/* Launches both sides: ctas_p prefill work items x KV heads, ctas_d decode ones; `counters` are the
 * plan's pod_fused_counters (zero between launches). */
int32_t pod_sm90_pod_launch(int32_t device, const pod_side* prefill, const pod_attn_params* pp, int64_t ctas_p, const pod_side* decode,
                            const pod_attn_params* pd, int64_t ctas_d, uint64_t counters, void* stream);

#endif
