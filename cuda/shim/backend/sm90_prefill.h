/* The sm_90a prefill kernel (kernels/sm90): which planned prefill sides it takes, and its launch. A
 * side it does not take runs the portable kernel with the same results. */
#ifndef POD_SM90_PREFILL_H
#define POD_SM90_PREFILL_H

#include "kernels/sm90/pod_params.h"
#include "shim/attention_problem.h"
#include "shim/runtime/cuda_driver.h"

/* Whether the device is sm_90 and the library has its sm_90a kernels (POD_PORTABLE_KERNELS=1: never). */
int pod_sm90_available(int32_t device);
/* Whether a side's K/V caches suit the sm_90a kernels' TMA maps: no custom mask, K and V of one dtype
 * (the kernels' own serves() say which), layouts TMA can describe, page sizes (powers of two) of
 * min_page or more. */
int pod_sm90_kv_layout_fits(const pod_side* s, const pod_attn_params* p, int32_t min_page);
/* ... and its options suit the sm_90a prefill: no RoPE or ALiBi, sm_scale >= 0 unless soft-capped;
 * pages of any size (those TMA boxes do not suit are gathered). */
int pod_sm90_kv_fits(const pod_side* s, const pod_attn_params* p);
/* Whether the device and the (q dtype, K/V dtype, head_dim) have the sm_90a kernel at all: the
 * planner sizes prefill schedules for its occupancy then. */
int pod_sm90_prefill_serves(int32_t device, int32_t q_dtype, int32_t kv_dtype, int32_t head_dim);
int32_t pod_sm90_prefill_ctas_per_sm(int32_t device, int32_t q_dtype, int32_t head_dim, int32_t* ctas);
/* Whether it takes this side, with the parameters run() built for it: options (no custom mask, RoPE
 * or ALiBi), layouts TMA can describe (or, gathered pages, 16-byte aligned rows), any page size. */
int pod_sm90_prefill_takes(int32_t device, const pod_side* s, const pod_attn_params* p);
/* The kernel parameters of a side an sm_90a kernel takes: `p` and TMA descriptors of the side's K/V
 * tensors, with boxes of `tile_keys` slots (or one page, where pages are smaller) and L2 promotion `l2`. */
int32_t pod_sm90_side_prepare(const pod_side* s, const pod_attn_params* p, const char* side_name, int32_t tile_keys,
                                 CUtensorMapL2promotion l2, pod_sm90_side_params* out);
/* Whether a paged prefill side's K/V rows are gathered with cp.async rather than loaded in TMA boxes:
 * pages below 8 slots or not powers of two (any layout with 16-byte aligned rows fits then). */
int pod_sm90_prefill_gathers(const pod_side* s);
/* The prefill kernel's parameters of a side it takes: pod_sm90_side_prepare's, or gathered pages. */
int32_t pod_sm90_prefill_prepare(const pod_side* s, const pod_attn_params* p, const char* side_name, pod_sm90_side_params* out);
/* Whether a POD kernel is built for (dtype, head_dim): head_dim 64 and 128. */
int pod_sm90_pod_built(int32_t dtype, int32_t head_dim);
/* The POD kernel (kernels/sm90/pod_kernel.cuh) whose prefill side matches (dtype, head_dim, soft cap). */
int32_t pod_sm90_pod_kernel(int32_t device, int32_t dtype, int32_t head_dim, int32_t soft_cap, CUfunction* fn, const char** name);
/* Launches the side with its built parameters `p` over `ctas` CTAs. */
int32_t pod_sm90_prefill_launch(int32_t device, const pod_side* s, const pod_attn_params* p, int64_t ctas, const char* side_name,
                                void* stream);

#endif
