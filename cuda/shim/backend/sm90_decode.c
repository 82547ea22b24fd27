/* The sm_90a decode kernel: eligibility, launch (TMA descriptors as for the sm_90a prefill). */
#include <stddef.h>
#include <stdio.h>

#include "shim/backend/sm90_decode.h"
#include "shim/backend/sm90_prefill.h"
#include "shim/runtime/cuda_driver.h"
#include "shim/runtime/dtype.h"
#include "shim/runtime/error.h"
#include "shim/runtime/kernel_cache.h"

/* One kernel per (q dtype, cache format, head_dim, score variant). */
enum { SCORE_PLAIN, SCORE_SOFTCAP, SCORE_ALIBI, SCORE_ROPE, SCORES };
static const char* const score_suffix[SCORES] = {"", "_softcap", "_alibi", "_rope"};

typedef struct decode_variant {
  int32_t dtype, kv_dtype, head_dim;
  const char* module;
  const char* name; /* pod_sm90_decode_<name>_<head_dim><score suffix> */
} decode_variant;

static const decode_variant variants[] = {
    {POD_FLOAT16, POD_FLOAT16, 64, "decode_f16", "f16"},
    {POD_FLOAT16, POD_FLOAT16, 128, "decode_f16", "f16"},
    {POD_FLOAT16, POD_FLOAT8_E4M3, 64, "decode_f16_fp8", "f16_e4m3"},
    {POD_FLOAT16, POD_FLOAT8_E4M3, 128, "decode_f16_fp8", "f16_e4m3"},
    {POD_FLOAT16, POD_FLOAT8_E5M2, 64, "decode_f16_fp8", "f16_e5m2"},
    {POD_FLOAT16, POD_FLOAT8_E5M2, 128, "decode_f16_fp8", "f16_e5m2"},
    {POD_BFLOAT16, POD_BFLOAT16, 64, "decode_bf16", "bf16"},
    {POD_BFLOAT16, POD_BFLOAT16, 128, "decode_bf16", "bf16"},
    {POD_BFLOAT16, POD_FLOAT8_E4M3, 64, "decode_bf16_fp8", "bf16_e4m3"},
    {POD_BFLOAT16, POD_FLOAT8_E4M3, 128, "decode_bf16_fp8", "bf16_e4m3"},
    {POD_BFLOAT16, POD_FLOAT8_E5M2, 64, "decode_bf16_fp8", "bf16_e5m2"},
    {POD_BFLOAT16, POD_FLOAT8_E5M2, 128, "decode_bf16_fp8", "bf16_e5m2"},
};

static const decode_variant* find_variant(int32_t dtype, int32_t kv_dtype, int32_t head_dim) {
  for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++)
    if (variants[i].dtype == dtype && variants[i].kv_dtype == kv_dtype && variants[i].head_dim == head_dim) return &variants[i];
  return NULL;
}

static void kernel_name(const decode_variant* v, int score, char* out, size_t size) {
  snprintf(out, size, "pod_sm90_decode_%s_%d%s", v->name, (int)v->head_dim, score_suffix[score]);
}

/* The score variant of a side's options, or -1 where none is built (soft cap with a position
 * encoding; plain scores with sm_scale < 0, which they fold into the exponent's running maximum). */
static int score_of(const pod_side* s, const pod_attn_params* p) {
  const int cap = p->soft_cap > 0.0f, pos = s->options.pos_encoding;
  if (pos == POD_POS_ALIBI) return cap ? -1 : SCORE_ALIBI;
  if (pos == POD_POS_ROPE_LLAMA) return cap || p->sm_scale < 0.0f ? -1 : SCORE_ROPE;
  if (pos != POD_POS_NONE) return -1;
  return cap ? SCORE_SOFTCAP : p->sm_scale < 0.0f ? -1 : SCORE_PLAIN;
}

int pod_sm90_decode_serves(int32_t device, int32_t q_dtype, int32_t kv_dtype, int32_t head_dim) {
  return find_variant(q_dtype, kv_dtype, head_dim) != NULL && pod_sm90_available(device);
}

int32_t pod_sm90_decode_ctas_per_sm(int32_t device, int32_t q_dtype, int32_t kv_dtype, int32_t head_dim, int32_t* ctas) {
  const decode_variant* v = find_variant(q_dtype, kv_dtype, head_dim);
  char name[64];
  kernel_name(v, SCORE_PLAIN, name, sizeof name);
  CUfunction fn;
  return pod_kernel_get(device, v->module, name, pod_sm90_decode_smem(head_dim, pod_dtype_is_fp8(kv_dtype)), POD_SM90_DECODE_THREADS, &fn, ctas);
}

/* Pages of 8 slots or more: a TMA box per page. Smaller pages run the portable kernel: a box per key
 * or two is correct but slow (H200, 128@4096 fp16 page 1: 2.53 ms, against 0.83 portable and 0.49 at
 * page 16), and fp8 rows of 64 bytes would miss TMA's 128-byte destination alignment. */
int pod_sm90_decode_takes(int32_t device, const pod_side* s, const pod_attn_params* p) {
  return pod_sm90_decode_serves(device, s->q.dtype, s->k.dtype, s->head_dim) && score_of(s, p) >= 0 && pod_sm90_kv_layout_fits(s, p, 8);
}

int32_t pod_sm90_decode_launch(int32_t device, const pod_side* s, const pod_attn_params* p, int64_t ctas, const char* side_name, void* stream) {
  if (ctas > INT32_MAX) return pod_fail(POD_ERR_INVALID_ARGUMENT, "q_%s: more row tiles than one launch covers", side_name);
  pod_sm90_side_params P;
  int32_t st;
  if ((st = pod_sm90_side_prepare(s, p, side_name, POD_SM90_DECODE_KEYS, POD_SM90_DECODE_L2, &P))) return st;
  const decode_variant* var = find_variant(s->q.dtype, s->k.dtype, s->head_dim);
  char name[64];
  kernel_name(var, score_of(s, p), name, sizeof name);
  const int32_t smem = pod_sm90_decode_smem(s->head_dim, pod_dtype_is_fp8(s->k.dtype));
  CUfunction fn;
  if ((st = pod_kernel_get(device, var->module, name, smem, POD_SM90_DECODE_THREADS, &fn, NULL))) return st;
  void* params[] = {&P};
  return pod_cuda_launch(fn, (unsigned)ctas, 1, 1, POD_SM90_DECODE_THREADS, (unsigned)smem, (CUstream)stream, params, name);
}
