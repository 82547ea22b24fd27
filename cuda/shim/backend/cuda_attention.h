/* Runs one planned side (prefill or decode) with the CUDA attention kernels, asynchronously on a
 * stream. `side_name` ("p" or "d") names the tensors in errors. */
#ifndef POD_CUDA_ATTENTION_H
#define POD_CUDA_ATTENTION_H

#include "shim/attention_problem.h"

int32_t pod_cuda_attention(int32_t device, const pod_side* side, const char* side_name, void* stream);
/* Both sides of a POD run: in one fused launch or back to back, as the plan's pod_launch_choice says
 * (auto: whichever is faster; sides of different dtype or head_dim always back to back). *launch:
 * POD_LAUNCH_SERIAL, POD_LAUNCH_FUSED or POD_LAUNCH_ONE_SIDE (a side had no CTAs). */
int32_t pod_cuda_pod(int32_t device, const pod_side* prefill, const pod_side* decode, int32_t choice, uint64_t counters, void* stream,
                     int32_t* launch);
/* How many CTAs of the attention kernel for (dtype, head_dim, tile) fit on one SM at once. */
/* Packed rows of a work item of the tile shape: the portable kernel's, or the sm_90a prefill's 128 where
 * it serves the (dtypes, head_dim) on the device. plan() and run() ask the same. */
int32_t pod_attention_tile_rows(int32_t device, int32_t q_dtype, int32_t kv_dtype, int32_t head_dim, int32_t tile);
int32_t pod_attention_ctas_per_sm(int32_t device, int32_t q_dtype, int32_t kv_dtype, int32_t head_dim, int32_t tile, int32_t* ctas);

#endif
