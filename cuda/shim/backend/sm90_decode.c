/* The sm_90a decode kernel: eligibility, launch (TMA descriptors as for the sm_90a prefill). */
#include <stddef.h>

#include "shim/backend/sm90_decode.h"
#include "shim/backend/sm90_prefill.h"
#include "shim/runtime/cuda_driver.h"
#include "shim/runtime/dtype.h"
#include "shim/runtime/error.h"
#include "shim/runtime/kernel_cache.h"

/* One kernel per (q dtype, cache format, head_dim, score variant). */
typedef struct decode_variant {
  int32_t dtype, kv_dtype, head_dim, soft_cap;
  const char* name;
} decode_variant;

#define POD_DECODE_VARIANTS(DTYPE, KV, NAME, D)                             \
  {DTYPE, KV, D, 0, "pod_sm90_decode_" NAME "_" #D}, {DTYPE, KV, D, 1, "pod_sm90_decode_" NAME "_" #D "_softcap"}
static const decode_variant variants[] = {
    POD_DECODE_VARIANTS(POD_FLOAT16, POD_FLOAT16, "f16", 64),            POD_DECODE_VARIANTS(POD_FLOAT16, POD_FLOAT16, "f16", 128),
    POD_DECODE_VARIANTS(POD_FLOAT16, POD_FLOAT8_E4M3, "f16_e4m3", 64),   POD_DECODE_VARIANTS(POD_FLOAT16, POD_FLOAT8_E4M3, "f16_e4m3", 128),
    POD_DECODE_VARIANTS(POD_FLOAT16, POD_FLOAT8_E5M2, "f16_e5m2", 64),   POD_DECODE_VARIANTS(POD_FLOAT16, POD_FLOAT8_E5M2, "f16_e5m2", 128),
    POD_DECODE_VARIANTS(POD_BFLOAT16, POD_BFLOAT16, "bf16", 64),         POD_DECODE_VARIANTS(POD_BFLOAT16, POD_BFLOAT16, "bf16", 128),
    POD_DECODE_VARIANTS(POD_BFLOAT16, POD_FLOAT8_E4M3, "bf16_e4m3", 64), POD_DECODE_VARIANTS(POD_BFLOAT16, POD_FLOAT8_E4M3, "bf16_e4m3", 128),
    POD_DECODE_VARIANTS(POD_BFLOAT16, POD_FLOAT8_E5M2, "bf16_e5m2", 64), POD_DECODE_VARIANTS(POD_BFLOAT16, POD_FLOAT8_E5M2, "bf16_e5m2", 128),
};

static const decode_variant* find_variant(int32_t dtype, int32_t kv_dtype, int32_t head_dim, int32_t soft_cap) {
  for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++)
    if (variants[i].dtype == dtype && variants[i].kv_dtype == kv_dtype && variants[i].head_dim == head_dim && variants[i].soft_cap == soft_cap)
      return &variants[i];
  return NULL;
}

/* The module of a kernel: its q dtype's decode file. */
static const char* module_of(int32_t dtype) { return dtype == POD_BFLOAT16 ? "decode_bf16" : "decode_f16"; }

int pod_sm90_decode_serves(int32_t device, int32_t q_dtype, int32_t kv_dtype, int32_t head_dim) {
  return find_variant(q_dtype, kv_dtype, head_dim, 0) != NULL && pod_sm90_available(device);
}

int32_t pod_sm90_decode_ctas_per_sm(int32_t device, int32_t q_dtype, int32_t kv_dtype, int32_t head_dim, int32_t* ctas) {
  const decode_variant* v = find_variant(q_dtype, kv_dtype, head_dim, 0);
  CUfunction fn;
  return pod_kernel_get(device, module_of(q_dtype), v->name, pod_sm90_decode_smem(head_dim, pod_dtype_is_fp8(kv_dtype)), POD_SM90_DECODE_THREADS,
                        &fn, ctas);
}

int pod_sm90_decode_takes(int32_t device, const pod_side* s, const pod_attn_params* p) {
  return pod_sm90_decode_serves(device, s->q.dtype, s->k.dtype, s->head_dim) && pod_sm90_kv_fits(s, p);
}

int32_t pod_sm90_decode_launch(int32_t device, const pod_side* s, const pod_attn_params* p, int64_t ctas, const char* side_name, void* stream) {
  if (ctas > INT32_MAX) return pod_fail(POD_ERR_INVALID_ARGUMENT, "q_%s: more row tiles than one launch covers", side_name);
  pod_sm90_side_params P;
  int32_t st;
  if ((st = pod_sm90_side_prepare(s, p, side_name, POD_SM90_DECODE_KEYS, POD_SM90_DECODE_L2, &P))) return st;
  const decode_variant* var = find_variant(s->q.dtype, s->k.dtype, s->head_dim, p->soft_cap > 0.0f);
  const int32_t smem = pod_sm90_decode_smem(s->head_dim, pod_dtype_is_fp8(s->k.dtype));
  CUfunction fn;
  if ((st = pod_kernel_get(device, module_of(s->q.dtype), var->name, smem, POD_SM90_DECODE_THREADS, &fn, NULL))) return st;
  void* params[] = {&P};
  return pod_cuda_launch(fn, (unsigned)ctas, 1, 1, POD_SM90_DECODE_THREADS, (unsigned)smem, (CUstream)stream, params, var->name);
}
