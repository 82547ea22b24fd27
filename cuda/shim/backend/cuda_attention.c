/* Launching the attention kernels for one planned side on a CUDA device. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim/backend/cuda_attention.h"
#include "shim/backend/sm90_decode.h"
#include "shim/backend/sm90_pod.h"
#include "shim/backend/sm90_prefill.h"
#include "shim/planner/schedule.h"
#include "shim/runtime/cuda_driver.h"
#include "shim/runtime/dtype.h"
#include "shim/runtime/error.h"
#include "shim/runtime/kernel_cache.h"

/* Attention kernels live in the module attention_<dtype>_<head_dim>: the kernel name minus its
 * "pod_attention_" prefix and "_<tile>" suffix, or minus "pod_fused_". */
static void module_of(const char* name, char* module, size_t size) {
  if (strncmp(name, "pod_fused_", 10) == 0) {  /* pod_fused_<dtype>_<head_dim> */
    snprintf(module, size, "attention_%s", name + 10);
    return;
  }
  const char* rest = name + 14;
  const char* tile = strrchr(rest, '_');
  snprintf(module, size, "attention_%.*s", (int)(tile - rest), rest);
}

static int32_t get_kernel_occupancy(int32_t device, const char* name, int32_t smem, CUfunction* out, int32_t* ctas_per_sm) {
  char module[48];
  module_of(name, module, sizeof module);
  return pod_kernel_get(device, module, name, smem, POD_CTA_THREADS, out, ctas_per_sm);
}

static int32_t get_kernel(int32_t device, const char* name, int32_t smem, CUfunction* out) {
  return get_kernel_occupancy(device, name, smem, out, NULL);
}

/* cp.async and the 16-byte stores need every row of q, k, v and o on a 16-byte boundary. */
static int32_t check_aligned(const pod_tensor* t, const char* name) {
  const int64_t size = pod_dtype_size(t->dtype);
  int ok = t->data % 16 == 0;
  for (int i = 0; i + 1 < t->ndim; i++) ok = ok && (t->shape[i] <= 1 || t->strides[i] * size % 16 == 0);
  if (ok) return POD_OK;
  return pod_fail(POD_ERR_INVALID_ARGUMENT,
                  "%s: the CUDA kernels need 16-byte aligned rows (address a multiple of 16 bytes, strides multiples of %lld elements)", name,
                  (long long)(16 / size));
}

/* The dtype part of kernel names: q's dtype, and "_fp8" for fp8 caches. */
static const char* kernel_dtype(int32_t q_dtype, int32_t kv_dtype) {
  if (pod_dtype_is_fp8(kv_dtype)) return q_dtype == POD_BFLOAT16 ? "bf16_fp8" : "f16_fp8";
  return q_dtype == POD_BFLOAT16 ? "bf16" : "f16";
}

int32_t pod_attention_tile_rows(int32_t device, int32_t q_dtype, int32_t kv_dtype, int32_t head_dim, int32_t tile) {
  if (tile == POD_TILE_PREFILL && pod_sm90_prefill_serves(device, q_dtype, kv_dtype, head_dim)) return POD_SM90_ROWS;
  return pod_tile_rows(tile, head_dim);
}

int32_t pod_attention_ctas_per_sm(int32_t device, int32_t q_dtype, int32_t kv_dtype, int32_t head_dim, int32_t tile, int32_t* ctas) {
  if (tile == POD_TILE_PREFILL && pod_sm90_prefill_serves(device, q_dtype, kv_dtype, head_dim)) return pod_sm90_prefill_ctas_per_sm(device, q_dtype, head_dim, ctas);
  if (tile == POD_TILE_DECODE && pod_sm90_decode_serves(device, q_dtype, kv_dtype, head_dim)) return pod_sm90_decode_ctas_per_sm(device, q_dtype, kv_dtype, head_dim, ctas);
  char name[48];
  snprintf(name, sizeof name, "pod_attention_%s_%d_%s", kernel_dtype(q_dtype, kv_dtype), head_dim, tile == POD_TILE_PREFILL ? "prefill" : "decode");
  CUfunction fn;
  return get_kernel_occupancy(device, name, pod_attention_smem_bytes(tile, head_dim, 0, pod_dtype_is_fp8(kv_dtype)), &fn, ctas);
}

/* The kernel parameters of one side, its tile shape and its CTA count. */
static int32_t build_params(int32_t device, const pod_side* s, const char* side_name, pod_attn_params* out, int32_t* tile_out, int64_t* ctas) {
  char what[64];
  int32_t st;
  const pod_tensor* checked[4] = {&s->q, &s->o, &s->k, &s->v};
  const char* names[4] = {"q", "o", "k", "v"};
  for (int i = 0; i < 4; i++) {
    snprintf(what, sizeof what, "%s_%s", names[i], side_name);
    if ((st = check_aligned(checked[i], what))) return st;
  }
  pod_attn_params p;
  memset(&p, 0, sizeof p);
  p.q = s->q.data, p.o = s->o.data, p.lse = s->lse.data, p.mask = s->mask.data;
  p.q_stride_t = s->q.strides[0], p.q_stride_h = s->q.strides[1];
  p.o_stride_t = s->o.strides[0], p.o_stride_h = s->o.strides[1];
  if (s->lse.data) p.lse_stride_t = s->lse.strides[0], p.lse_stride_h = s->lse.strides[1];
  p.k = s->k.data, p.v = s->v.data;
  const int nhd = s->kv_layout == POD_NHD;
  if (s->paged) {
    p.k_s0 = s->k.strides[0], p.k_s1 = s->k.strides[nhd ? 1 : 2], p.k_s2 = s->k.strides[nhd ? 2 : 1];
    p.v_s0 = s->v.strides[0], p.v_s1 = s->v.strides[nhd ? 1 : 2], p.v_s2 = s->v.strides[nhd ? 2 : 1];
    p.page_size = s->page_size;
    p.page_shift = -1;
    for (int b = 0; b < 31; b++)
      if (s->page_size == (1 << b)) p.page_shift = b;
  } else {
    p.k_s0 = s->k.strides[nhd ? 0 : 1], p.k_s2 = s->k.strides[nhd ? 1 : 0];
    p.v_s0 = s->v.strides[nhd ? 0 : 1], p.v_s2 = s->v.strides[nhd ? 1 : 0];
  }
  const int64_t strides[4] = {p.k_s0, p.k_s1, p.v_s0, p.v_s1};
  for (int i = 0; i < 4; i++)
    if (strides[i] > INT32_MAX || strides[i] < INT32_MIN)
      return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s_%s: a row or page stride of %lld elements is beyond the CUDA kernels' 32-bit strides",
                      i < 2 ? "k" : "v", side_name, (long long)strides[i]);
  p.mask_mode = s->mask_mode;
  p.mask_2d = s->mask.ndim == 2;
  p.mask_s0 = s->mask.strides[0], p.mask_s1 = s->mask.ndim == 2 ? s->mask.strides[1] : 0;
  p.qo_indptr = s->dev.qo_indptr, p.kv_lens = s->dev.kv_lens, p.kv_indptr = s->dev.kv_indptr, p.kv_indices = s->dev.kv_indices;
  p.mask_offsets = s->dev.mask_offsets;
  p.work = s->dev.work, p.merge = s->dev.merge, p.partial_o = s->dev.partial_o, p.partial_lse = s->dev.partial_lse;
  p.num_work = s->dev.num_work, p.num_merge = s->dev.num_merge;
  /* Bounds of what the kernels read from the workspace, and where they report a value out of them. */
  p.side = s->dev.fault_by, p.fault = s->dev.fault;
  p.num_requests = s->num_requests, p.num_indices = s->dev.num_indices, p.num_partial = s->dev.num_partial;
  p.num_tokens = s->q.shape[0] > INT32_MAX ? INT32_MAX : (int32_t)s->q.shape[0];
  p.num_pages = !s->paged ? 0 : s->k.shape[0] > INT32_MAX ? INT32_MAX : (int32_t)s->k.shape[0];
  p.mask_elems = s->mask_mode == 0 ? 0 : s->mask.ndim == 2 ? s->mask.shape[0] * s->mask.shape[1] : s->mask.shape[0];
  p.num_qo_heads = s->num_qo_heads, p.num_kv_heads = s->num_kv_heads, p.group = s->num_qo_heads / s->num_kv_heads;
  p.head_dim = s->head_dim;
  p.implicit_qo_len = s->qo_indptr[1] - s->qo_indptr[0];
  p.implicit_kv_len = s->kv_lens[0];
  p.causal = s->options.causal, p.window_left = s->options.window_left, p.pos_encoding = s->options.pos_encoding;
  p.sm_scale = s->options.sm_scale;
  p.v_scale = s->v_scale;
  p.kv_e5m2 = s->k.dtype == POD_FLOAT8_E5M2;
  p.sm_scale_log2 = s->options.sm_scale * 1.4426950408889634f;
  p.soft_cap = s->options.logits_soft_cap;
  p.rope_rcp_scale = 1.0f / s->options.rope_scale;
  p.rope_theta = s->options.rope_theta;
  const int32_t tile = s->dev.work ? s->dev.tile : pod_schedule_tile(p.implicit_qo_len * p.group);
  p.item_rows = pod_attention_tile_rows(device, s->q.dtype, s->k.dtype, s->head_dim, tile); /* as planned */
  if (s->dev.work) {
    *ctas = (int64_t)s->dev.num_work * s->num_kv_heads; /* one CTA per work item and KV head */
  } else {
    const int32_t rows = p.item_rows;
    p.implicit_row_tiles = (p.implicit_qo_len * p.group + rows - 1) / rows;
    *ctas = (int64_t)p.implicit_row_tiles * s->num_kv_heads;
    if (*ctas > INT32_MAX)
      return pod_fail(POD_ERR_INVALID_ARGUMENT, "q_%s: %d queries x %d heads per KV head are more rows than one launch covers", side_name,
                      p.implicit_qo_len, p.group);
  }
  *out = p;
  *tile_out = tile;
  return POD_OK;
}

int32_t pod_cuda_attention(int32_t device, const pod_side* s, const char* side_name, void* stream) {
  pod_attn_params p;
  int32_t tile, st;
  int64_t ctas;
  if ((st = build_params(device, s, side_name, &p, &tile, &ctas))) return st;
  if (ctas == 0) return POD_OK;
  if (tile == POD_TILE_PREFILL && pod_sm90_prefill_takes(device, s, &p)) return pod_sm90_prefill_launch(device, s, &p, ctas, side_name, stream);
  if (tile == POD_TILE_DECODE && pod_sm90_decode_takes(device, s, &p)) return pod_sm90_decode_launch(device, s, &p, ctas, side_name, stream);
  char name[48];
  snprintf(name, sizeof name, "pod_attention_%s_%d_%s", kernel_dtype(s->q.dtype, s->k.dtype), s->head_dim,
           tile == POD_TILE_PREFILL ? "prefill" : "decode");
  const int32_t smem = pod_attention_smem_bytes(tile, s->head_dim, 0, pod_dtype_is_fp8(s->k.dtype));
  CUfunction fn;
  if ((st = get_kernel(device, name, smem, &fn))) return st;
  void* params[] = {&p};
  return pod_cuda_launch(fn, (unsigned)ctas, 1, 1, POD_CTA_THREADS, (unsigned)smem, (CUstream)stream, params, name);
}

/* A device's peak rates from its properties: dense 16-bit tensor FLOPs (SMs x clock x 4096 a cycle on
 * sm_90, 2048 before) and DRAM bytes (memory clock x bus width, double data rate), scaled by the
 * fractions our kernels reach (H200: prefill 0.55 of the MMA peak, decode 0.87 of the DRAM rating).
 * Cached per device; where the driver reports no clocks, H100-like rates. */
typedef struct device_rates {
  double flops, bytes;
  int32_t sm_count;
} device_rates;

static device_rates rates_of(int32_t device) {
  static device_rates cache[64];
  device_rates r = {400e12, 3e12, 132};
  if (device < 0 || device >= 64) return r;
  if (cache[device].flops > 0.0) return cache[device];
  CUdevice dev;
  int sms = 0, clock_khz = 0, mem_khz = 0, bus_bits = 0;
  if (pod_cu.DeviceGet(&dev, device) == CUDA_SUCCESS) {
    pod_cu.DeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev);
    pod_cu.DeviceGetAttribute(&clock_khz, CU_DEVICE_ATTRIBUTE_CLOCK_RATE, dev);
    pod_cu.DeviceGetAttribute(&mem_khz, CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE, dev);
    pod_cu.DeviceGetAttribute(&bus_bits, CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH, dev);
  }
  if (sms > 0) r.sm_count = sms;
  if (sms > 0 && clock_khz > 0 && mem_khz > 0 && bus_bits > 0) {
    r.flops = 0.55 * sms * (clock_khz * 1e3) * (pod_cuda_cc(device) >= 90 ? 4096.0 : 2048.0);
    r.bytes = 0.87 * (mem_khz * 1e3) * 2.0 * bus_bits / 8.0;
  }
  cache[device] = r;
  return r;
}

/* Estimated time of one side alone: its tensor work or its key/value bytes, whichever takes longer
 * (logits soft cap makes prefill about a quarter slower: tanh shares the exponent's unit). */
static double side_seconds(const pod_side* s, const device_rates* r) {
  double pairs = 0.0, keys = 0.0;
  for (int32_t q = 0; q < s->num_requests; q++) {
    const double qo = s->qo_indptr[q + 1] - s->qo_indptr[q], kv = s->kv_lens[q];
    pairs += s->options.causal && qo <= kv ? qo * kv - qo * (qo - 1) / 2 : qo * kv;
    keys += kv;
  }
  const double flops = 4.0 * pairs * s->num_qo_heads * s->head_dim * (s->options.logits_soft_cap > 0.0f ? 1.25 : 1.0);
  const double bytes = 2.0 * keys * s->num_kv_heads * s->head_dim * pod_dtype_size(s->k.dtype);
  return fmax(flops / r->flops, bytes / r->bytes);
}

/* The CTA order of a portable POD launch. Measured on the H100 (bench/NOTES.md): where both sides are
 * long the per-SM role mix overlaps them best; where one side is short next to the other, alternating
 * CTAs lets the short side finish early and leaves the long side all the slots. */
static int32_t fused_order(int32_t device, const pod_side* prefill, const pod_side* decode) {
  const device_rates r = rates_of(device);
  const double p = side_seconds(prefill, &r), d = side_seconds(decode, &r);
  return fmin(p, d) >= 0.2 * fmax(p, d) ? POD_ORDER_PER_SM : POD_ORDER_ALTERNATE;
}

/* Whether one fused launch beats the two kernels back to back (POD_CHOOSE_AUTO). Where the portable
 * kernels run both sides, their fused launch is the faster (H100,
 * bench/results/NVIDIA-H100-80GB-HBM3-pod.json). Where the sm_90a kernels take both sides, the fused
 * launch overlaps them only across SMs, and it beat serial on the H200 (bench/results/
 * NVIDIA-H200-pod-fused.json) where the sides' estimated times are within a factor of about two
 * (0.45 to 2) and the prefill has enough CTAs (4 a SM) for the claims to keep both sides on pace:
 * C4, 7-9% faster; elsewhere it was up to 7% slower or within 3%. */
static int fused_pays(int32_t device, int32_t choice, int sm90, const pod_side* prefill, const pod_side* decode, int64_t prefill_ctas) {
  if (choice != POD_CHOOSE_AUTO) return choice == POD_CHOOSE_FUSED;
  if (!sm90) return 1;
  const device_rates r = rates_of(device);
  const double ratio = side_seconds(prefill, &r) / fmax(side_seconds(decode, &r), 1e-12);
  return ratio >= 0.45 && ratio <= 2.0 && prefill_ctas >= 4 * (int64_t)r.sm_count;
}

static int32_t run_serial(int32_t device, const pod_side* prefill, const pod_side* decode, void* stream) {
  int32_t st = pod_cuda_attention(device, prefill, "p", stream);
  return st ? st : pod_cuda_attention(device, decode, "d", stream);
}

int32_t pod_cuda_pod(int32_t device, const pod_side* prefill, const pod_side* decode, int32_t choice, uint64_t counters, void* stream, int32_t* launch) {
  *launch = POD_LAUNCH_SERIAL;
  if (prefill->q.dtype != decode->q.dtype || prefill->head_dim != decode->head_dim || pod_dtype_is_fp8(prefill->k.dtype) != pod_dtype_is_fp8(decode->k.dtype)) {
    /* The fused kernel is compiled per (dtype, head_dim, fp8 cache or not): sides that differ run one
     * after the other. */
    return run_serial(device, prefill, decode, stream);
  }
  pod_fused_params f;
  memset(&f, 0, sizeof f);
  int64_t ctas[2];
  int32_t st;
  if ((st = build_params(device, prefill, "p", &f.side[0], &f.tile[0], &ctas[0])) ||
      (st = build_params(device, decode, "d", &f.side[1], &f.tile[1], &ctas[1])))
    return st;
  /* A side without CTAs leaves the other to its own kernel. */
  if (ctas[0] == 0 || ctas[1] == 0) {
    *launch = POD_LAUNCH_ONE_SIDE;
    return ctas[0] ? pod_cuda_attention(device, prefill, "p", stream) : pod_cuda_attention(device, decode, "d", stream);
  }
  const int sm90 = pod_sm90_pod_takes(device, prefill, &f.side[0], f.tile[0], decode, &f.side[1], f.tile[1]);
  if (!fused_pays(device, choice, sm90, prefill, decode, ctas[0])) return run_serial(device, prefill, decode, stream);
  *launch = POD_LAUNCH_FUSED;
  if (sm90) return pod_sm90_pod_launch(device, prefill, &f.side[0], ctas[0], decode, &f.side[1], ctas[1], counters, stream);
  if (ctas[0] + ctas[1] > INT32_MAX) return pod_fail(POD_ERR_INVALID_ARGUMENT, "q_p: the two sides need more CTAs than one launch holds");
  f.num_cta[0] = (int32_t)ctas[0], f.num_cta[1] = (int32_t)ctas[1];
  f.order = fused_order(device, prefill, decode);
  f.counters = counters;
  if (ctas[0] + ctas[1] > 0) {
    char name[48];
    const int kv8 = pod_dtype_is_fp8(prefill->k.dtype);
    snprintf(name, sizeof name, "pod_fused_%s_%d", kernel_dtype(prefill->q.dtype, prefill->k.dtype), prefill->head_dim);
    int32_t smem = pod_attention_smem_bytes(POD_TILE_PREFILL, prefill->head_dim, 1, kv8);
    const int32_t smem_decode = pod_attention_smem_bytes(POD_TILE_DECODE, prefill->head_dim, 1, kv8);
    if (smem_decode > smem) smem = smem_decode;
    CUfunction fn;
    int32_t slots;
    if ((st = get_kernel_occupancy(device, name, smem, &fn, &slots))) return st;
    f.prefill_slots = slots > 1 ? slots / 2 : 1; /* half of the SM's CTA slots while both sides have work */
    void* params[] = {&f};
    return pod_cuda_launch(fn, (unsigned)(ctas[0] + ctas[1]), 1, 1, POD_CTA_THREADS, (unsigned)smem, (CUstream)stream, params, name);
  }
  return POD_OK;
}
