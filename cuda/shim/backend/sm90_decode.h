/* The sm_90a decode kernel (kernels/sm90/decode_kernel.cuh): which planned decode-shape sides it takes,
 * and its launch. A side it does not take runs the portable kernel with the same results. */
#ifndef POD_SM90_DECODE_H
#define POD_SM90_DECODE_H

#include "kernels/sm90/decode_params.h"
#include "shim/attention_problem.h"
#include "shim/runtime/cuda_driver.h"

/* Whether the device and the (q dtype, K/V dtype, head_dim) have the kernel: the planner sizes decode
 * schedules for its occupancy then. */
int pod_sm90_decode_serves(int32_t device, int32_t q_dtype, int32_t kv_dtype, int32_t head_dim);
int32_t pod_sm90_decode_ctas_per_sm(int32_t device, int32_t q_dtype, int32_t kv_dtype, int32_t head_dim, int32_t* ctas);
/* Whether it takes this side, with the parameters run() built for it: every layout the TMA maps
 * describe (pod_sm90_kv_layout_fits), pages of 8 slots or more, plain scores, soft cap, ALiBi or RoPE. */
int pod_sm90_decode_takes(int32_t device, const pod_side* s, const pod_attn_params* p);
/* Launches the side with its built parameters `p` over `ctas` CTAs. */
/* L2 promotion of the decode's K/V boxes: 128 bytes, a box row (H200, 128@8192 fp16: 1.002 ms with
 * 256-byte promotion, 0.964 with 128, 0.968 with none). */
#define POD_SM90_DECODE_L2 CU_TENSOR_MAP_L2_PROMOTION_L2_128B
int32_t pod_sm90_decode_launch(int32_t device, const pod_side* s, const pod_attn_params* p, int64_t ctas, const char* side_name, void* stream);

#endif
