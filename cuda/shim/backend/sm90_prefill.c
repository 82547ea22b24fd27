/* The sm_90a prefill kernel: eligibility, TMA descriptors of the caller's K/V tensors, launch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/sm90/pod_params.h"
#include "shim/backend/sm90_prefill.h"
#include "shim/runtime/cuda_driver.h"
#include "shim/runtime/dtype.h"
#include "shim/runtime/error.h"
#include "shim/runtime/kernel_cache.h"

_Static_assert(sizeof(pod_tma_map) == sizeof(CUtensorMap), "pod_tma_map mirrors CUtensorMap");

/* The kernels, one per (dtype, head_dim, prefill score variant): the prefill alone, and the POD
 * launch that runs it beside decode bodies. */
typedef struct sm90_variant {
  int32_t dtype, head_dim, soft_cap;
  const char* module;
  const char* name;
  const char* pod_module;
  const char* pod_name;
} sm90_variant;

static const sm90_variant variants[] = {
    {POD_FLOAT16, 64, 0, "prefill_f16", "pod_sm90_prefill_f16_64", "pod_f16", "pod_sm90_pod_f16_64"},
    {POD_FLOAT16, 64, 1, "prefill_f16", "pod_sm90_prefill_f16_64_softcap", "pod_f16", "pod_sm90_pod_f16_64_softcap"},
    {POD_FLOAT16, 128, 0, "prefill_f16", "pod_sm90_prefill_f16_128", "pod_f16", "pod_sm90_pod_f16_128"},
    {POD_FLOAT16, 128, 1, "prefill_f16", "pod_sm90_prefill_f16_128_softcap", "pod_f16", "pod_sm90_pod_f16_128_softcap"},
    {POD_BFLOAT16, 64, 0, "prefill_bf16", "pod_sm90_prefill_bf16_64", "pod_bf16", "pod_sm90_pod_bf16_64"},
    {POD_BFLOAT16, 64, 1, "prefill_bf16", "pod_sm90_prefill_bf16_64_softcap", "pod_bf16", "pod_sm90_pod_bf16_64_softcap"},
    {POD_BFLOAT16, 128, 0, "prefill_bf16", "pod_sm90_prefill_bf16_128", "pod_bf16", "pod_sm90_pod_bf16_128"},
    {POD_BFLOAT16, 128, 1, "prefill_bf16", "pod_sm90_prefill_bf16_128_softcap", "pod_bf16", "pod_sm90_pod_bf16_128_softcap"},
    /* head_dim 256: the prefill only (a POD launch of it is not built: its decode runs beside it serially). */
    {POD_FLOAT16, 256, 0, "prefill_f16", "pod_sm90_prefill_f16_256", NULL, NULL},
    {POD_FLOAT16, 256, 1, "prefill_f16", "pod_sm90_prefill_f16_256_softcap", NULL, NULL},
    {POD_BFLOAT16, 256, 0, "prefill_bf16", "pod_sm90_prefill_bf16_256", NULL, NULL},
    {POD_BFLOAT16, 256, 1, "prefill_bf16", "pod_sm90_prefill_bf16_256_softcap", NULL, NULL},
};

static const sm90_variant* find_variant(int32_t dtype, int32_t head_dim, int32_t soft_cap) {
  for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++)
    if (variants[i].dtype == dtype && variants[i].head_dim == head_dim && variants[i].soft_cap == soft_cap) return &variants[i];
  return NULL;
}

/* POD_PORTABLE_KERNELS=1 runs the portable kernels on every device: a diagnostic, for comparing the
 * two paths (bench/prefill.ts); results are the same within rounding. */
static int portable_only(void) {
  static int cached = -1;
  if (cached < 0) {
    const char* e = getenv("POD_PORTABLE_KERNELS");
    cached = e && strcmp(e, "1") == 0;
  }
  return cached;
}

/* Whether the library was built with sm_90a code (the default build is; a build for other targets only
 * has the kernels' empty stand-ins): asked of the driver once per device. */
static int built_for_sm90a(int32_t device) {
  static signed char known[256];
  if (device < 0 || device >= 256) return 0;
  if (known[device] == 0) {
    CUfunction fn;
    int ptx = 0;
    const int ok = pod_kernel_get(device, variants[0].module, variants[0].name, pod_sm90_prefill_smem(variants[0].head_dim),
                                  POD_SM90_THREADS, &fn, NULL) == POD_OK &&
                   pod_cu.FuncGetAttribute(&ptx, CU_FUNC_ATTRIBUTE_PTX_VERSION, fn) == CUDA_SUCCESS && ptx >= 90;
    pod_clear_error();
    known[device] = ok ? 1 : -1;
  }
  return known[device] > 0;
}

int pod_sm90_available(int32_t device) { return !portable_only() && pod_cuda_cc(device) == 90 && built_for_sm90a(device); }

int pod_sm90_prefill_serves(int32_t device, int32_t q_dtype, int32_t kv_dtype, int32_t head_dim) {
  return kv_dtype == q_dtype && find_variant(q_dtype, head_dim, 0) != NULL && pod_sm90_available(device);
}

int32_t pod_sm90_prefill_ctas_per_sm(int32_t device, int32_t q_dtype, int32_t head_dim, int32_t* ctas) {
  const sm90_variant* v = find_variant(q_dtype, head_dim, 0);
  CUfunction fn;
  return pod_kernel_get(device, v->module, v->name, pod_sm90_prefill_smem(head_dim), POD_SM90_THREADS, &fn, ctas);
}

/* Strides in elements of a side's keys or values: head, key (contiguous) or slot (paged), page. */
typedef struct kv_strides {
  int64_t head, key, page;
} kv_strides;

/* The strides run() resolved for the layout (pod_attn_params: s0 page or token, s1 slot, s2 head). */
static kv_strides strides_of(const pod_side* s, const pod_attn_params* p, int values) {
  kv_strides k;
  k.head = values ? p->v_s2 : p->k_s2;
  k.key = s->paged ? (values ? p->v_s1 : p->k_s1) : (values ? p->v_s0 : p->k_s0);
  k.page = s->paged ? (values ? p->v_s0 : p->k_s0) : 0;
  /* One KV head: its stride is never stepped, any valid value does. */
  if (s->num_kv_heads == 1) k.head = k.key <= s->head_dim ? k.key : s->head_dim;
  return k;
}

/* The maps' dims run from the smallest stride up: head inside key (NHD) or key inside head (HND). */
static int heads_outer(const kv_strides* k) { return k->head > k->key; }

static int layout_fits(const pod_side* s, const pod_tensor* t, const kv_strides* k) {
  if (t->strides[t->ndim - 1] != 1) return 0;
  const int64_t size = pod_dtype_size(t->dtype);
  const int64_t inner = heads_outer(k) ? k->key : k->head, outer = heads_outer(k) ? k->head : k->key;
  if (inner < s->head_dim || (inner * size) % 16 != 0 || (outer * size) % 16 != 0) return 0;
  if (s->paged && (k->page < outer || (k->page * size) % 16 != 0)) return 0;
  return 1;
}

int pod_sm90_kv_layout_fits(const pod_side* s, const pod_attn_params* p, int32_t min_page) {
  if (s->v.dtype != s->k.dtype || s->mask_mode != 0) return 0;
  if (s->paged && (s->page_size < min_page || (s->page_size & (s->page_size - 1)) != 0)) return 0;
  const kv_strides k = strides_of(s, p, 0), v = strides_of(s, p, 1);
  return layout_fits(s, &s->k, &k) && layout_fits(s, &s->v, &v) && heads_outer(&k) == heads_outer(&v);
}

/* Pages of 8 slots or more that are powers of two take TMA boxes (a warp's lanes issue a tile's); other
 * page sizes are gathered row by row with cp.async. H200, 4 causal requests of 1024-3072 tokens
 * against the same requests contiguous (bench/paged-prefill.ts): boxes 1.01-1.03x at pages 16-128,
 * 1.13x at 8; gathered rows 1.47-1.5x at 8-128 but 1.93x at page 1 and 1.56x at 4, where the portable
 * kernel took 2.13x and 1.80x. */
int pod_sm90_prefill_gathers(const pod_side* s) { return s->paged && (s->page_size < 8 || (s->page_size & (s->page_size - 1)) != 0); }

int pod_sm90_kv_fits(const pod_side* s, const pod_attn_params* p) {
  /* Plain scores fold sm_scale into the exponent and its running maximum: a scale below zero
   * would flip which score is the maximum. */
  if (s->options.pos_encoding != 0 || (p->sm_scale < 0.0f && p->soft_cap <= 0.0f)) return 0;
  /* Gathered rows are 16-byte copies: run() has checked every row of K and V starts on a 16-byte
   * boundary (check_aligned, for every kernel). */
  if (pod_sm90_prefill_gathers(s)) return s->v.dtype == s->k.dtype && s->mask_mode == 0;
  return pod_sm90_kv_layout_fits(s, p, 8);
}

int pod_sm90_prefill_takes(int32_t device, const pod_side* s, const pod_attn_params* p) {
  return pod_sm90_prefill_serves(device, s->q.dtype, s->k.dtype, s->head_dim) && pod_sm90_kv_fits(s, p);
}

static int32_t encode_map(pod_tma_map* out, const pod_side* s, const pod_tensor* t, const kv_strides* k, int32_t tile_keys,
                          CUtensorMapL2promotion l2, const char* what) {
  const int ho = heads_outer(k);
  const int nhd = s->kv_layout == POD_NHD;
  const cuuint64_t heads = (cuuint64_t)s->num_kv_heads;
  const cuuint64_t keys = (cuuint64_t)(s->paged ? s->page_size : t->shape[nhd ? 0 : 1]);
  /* A box is one K/V tile, or one page where pages are smaller (the kernels' loads). */
  const cuuint32_t key_box = (cuuint32_t)(s->paged && s->page_size < tile_keys ? s->page_size : tile_keys);
  cuuint64_t dims[4] = {(cuuint64_t)s->head_dim, ho ? keys : heads, ho ? heads : keys, (cuuint64_t)t->shape[0]};
  /* 16-bit rows: 64-element boxes in the 128-byte swizzle wgmma and ldmatrix read; fp8 rows (decode):
   * the whole row in the swizzle of its width (128 or 64 bytes), converted by the consumers. */
  const int fp8 = pod_dtype_is_fp8(t->dtype);
  const cuuint64_t size = fp8 ? 1 : 2;
  cuuint64_t strides[3] = {(cuuint64_t)(ho ? k->key : k->head) * size, (cuuint64_t)(ho ? k->head : k->key) * size, (cuuint64_t)k->page * size};
  cuuint32_t box[4] = {fp8 ? (cuuint32_t)s->head_dim : 64, ho ? key_box : 1, ho ? 1 : key_box, 1};
  const cuuint32_t element_strides[4] = {1, 1, 1, 1};
  const CUtensorMapDataType type = fp8 ? CU_TENSOR_MAP_DATA_TYPE_UINT8
                                   : t->dtype == POD_BFLOAT16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16;
  /* No keys (or no pages): no tile is ever loaded, and the driver refuses empty dims. */
  if (keys == 0 || dims[3] == 0) return POD_OK;
  char label[64];
  snprintf(label, sizeof label, "%s: TMA descriptor", what);
  return pod_cuda_check(pod_cu.TensorMapEncodeTiled((CUtensorMap*)out, type, s->paged ? 4 : 3, (void*)(uintptr_t)t->data, dims, strides,
                                                    box, element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE,
                                                    fp8 && s->head_dim == 64 ? CU_TENSOR_MAP_SWIZZLE_64B : CU_TENSOR_MAP_SWIZZLE_128B,
                                                    l2, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE),
                        label);
}

int32_t pod_sm90_side_prepare(const pod_side* s, const pod_attn_params* p, const char* side_name, int32_t tile_keys,
                                 CUtensorMapL2promotion l2, pod_sm90_side_params* out) {
  pod_sm90_side_params P;
  memset(&P, 0, sizeof P);
  P.p = *p;
  const kv_strides k = strides_of(s, p, 0), v = strides_of(s, p, 1);
  P.heads_outer = heads_outer(&k);
  char what[16];
  int32_t st;
  snprintf(what, sizeof what, "k_%s", side_name);
  if ((st = encode_map(&P.k_map, s, &s->k, &k, tile_keys, l2, what))) return st;
  snprintf(what, sizeof what, "v_%s", side_name);
  if ((st = encode_map(&P.v_map, s, &s->v, &v, tile_keys, l2, what))) return st;
  *out = P;
  return POD_OK;
}

int32_t pod_sm90_prefill_prepare(const pod_side* s, const pod_attn_params* p, const char* side_name, pod_sm90_side_params* out) {
  if (pod_sm90_prefill_gathers(s)) { /* no maps: the producers address the pages themselves */
    memset(out, 0, sizeof *out);
    out->p = *p;
    out->paged_loads = POD_SM90_LOADS_GATHER;
    return POD_OK;
  }
  return pod_sm90_side_prepare(s, p, side_name, pod_sm90_keys(s->head_dim), CU_TENSOR_MAP_L2_PROMOTION_L2_256B, out);
}

int32_t pod_sm90_prefill_launch(int32_t device, const pod_side* s, const pod_attn_params* p, int64_t ctas, const char* side_name,
                                void* stream) {
  if (ctas > INT32_MAX) return pod_fail(POD_ERR_INVALID_ARGUMENT, "q_%s: more row tiles than one launch covers", side_name);
  pod_sm90_side_params P;
  int32_t st;
  if ((st = pod_sm90_prefill_prepare(s, p, side_name, &P))) return st;
  const sm90_variant* var = find_variant(s->q.dtype, s->head_dim, p->soft_cap > 0.0f);
  const int32_t smem = pod_sm90_prefill_smem(s->head_dim);
  CUfunction fn;
  if ((st = pod_kernel_get(device, var->module, var->name, smem, POD_SM90_THREADS, &fn, NULL))) return st;
  void* params[] = {&P};
  return pod_cuda_launch(fn, (unsigned)ctas, 1, 1, POD_SM90_THREADS, (unsigned)smem, (CUstream)stream, params, var->name);
}

int pod_sm90_pod_built(int32_t dtype, int32_t head_dim) {
  const sm90_variant* var = find_variant(dtype, head_dim, 0);
  return var != NULL && var->pod_name != NULL;
}

int32_t pod_sm90_pod_kernel(int32_t device, int32_t dtype, int32_t head_dim, int32_t soft_cap, CUfunction* fn, const char** name) {
  const sm90_variant* var = find_variant(dtype, head_dim, soft_cap);
  *name = var->pod_name;
  return pod_kernel_get(device, var->pod_module, var->pod_name, pod_sm90_pod_smem(head_dim), POD_SM90_THREADS, fn, NULL);
}
