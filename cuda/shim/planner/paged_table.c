#include <stdlib.h>
#include <string.h>

#include "shim/planner/paged_table.h"
#include "shim/runtime/error.h"

static int32_t check_array(const pod_host_i32* a, const char* name, const char* field) {
  if (a->len < 0) return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s.%s: negative length %lld", name, field, (long long)a->len);
  if (a->len > 0 && a->data == NULL) return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s.%s: null data with length %lld", name, field, (long long)a->len);
  if (a->len > INT32_MAX) return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s.%s: length %lld is too large", name, field, (long long)a->len);
  return POD_OK;
}

/* Copies the page indices and finds the smallest and largest in the same branch-free pass. Tables of
 * a large batch hold tens of thousands of pages and plan() should take microseconds: the loop
 * vectorizes, with AVX2's min/max where the CPU has them (the library's baseline x86-64 code has no
 * vector min/max), chosen once. */
#define COPY_RANGE_BODY                       \
  int32_t lo = INT32_MAX, hi = -1;            \
  for (int64_t i = 0; i < n; i++) {           \
    int32_t p = src[i];                       \
    dst[i] = p;                               \
    lo = p < lo ? p : lo;                     \
    hi = p > hi ? p : hi;                     \
  }                                           \
  *lo_out = lo, *hi_out = hi;

static void copy_range_baseline(int32_t* restrict dst, const int32_t* restrict src, int64_t n, int32_t* lo_out, int32_t* hi_out) {
  COPY_RANGE_BODY
}

#if defined(__x86_64__)
#include <cpuid.h>
__attribute__((target("avx2"))) static void copy_range_avx2(int32_t* restrict dst, const int32_t* restrict src, int64_t n, int32_t* lo_out,
                                                              int32_t* hi_out) {
  COPY_RANGE_BODY
}

/* AVX2 in the CPU and its registers saved by the OS (XGETBV: XMM and YMM state enabled). */
static int cpu_has_avx2(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE) || !(c & bit_AVX)) return 0;
  unsigned xcr0_lo, xcr0_hi;
  __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  if ((xcr0_lo & 6) != 6 || __get_cpuid_max(0, NULL) < 7) return 0;
  __cpuid_count(7, 0, a, b, c, d);
  return (b & bit_AVX2) != 0;
}
#endif

static void copy_range(int32_t* dst, const int32_t* src, int64_t n, int32_t* lo_out, int32_t* hi_out) {
#if defined(__x86_64__)
  static int avx2 = -1; /* a benign race: every thread computes the same answer */
  if (avx2 < 0) avx2 = cpu_has_avx2();
  if (avx2) {
    copy_range_avx2(dst, src, n, lo_out, hi_out);
    return;
  }
#endif
  copy_range_baseline(dst, src, n, lo_out, hi_out);
}

static int32_t check_indptr(const pod_host_i32* a, int64_t batch, const char* name, const char* field) {
  if (a->len != batch + 1)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s.%s: expected length %lld (requests + 1), got %lld", name, field, (long long)(batch + 1),
                    (long long)a->len);
  if (a->data[0] != 0) return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s.%s: must start at 0, starts at %d", name, field, a->data[0]);
  for (int64_t i = 0; i < batch; i++)
    if (a->data[i + 1] < a->data[i])
      return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s.%s: must not decrease, but entry %lld is %d and entry %lld is %d", name, field,
                      (long long)i, a->data[i], (long long)(i + 1), a->data[i + 1]);
  return POD_OK;
}

/* Layout of the workspace image: qo_indptr, kv_indptr, kv_lens, dense and packed mask offsets, then
 * kv_indices, each array 16-byte aligned. Everything before kv_indices depends on the batch only. */
static size_t layout(int64_t batch, int64_t pages, size_t offsets[6]) {
  size_t sizes[6] = {(size_t)(batch + 1) * 4, (size_t)(batch + 1) * 4, (size_t)batch * 4, (size_t)(batch + 1) * 8,
                     (size_t)(batch + 1) * 8, (size_t)pages * 4};
  size_t at = 0;
  for (int i = 0; i < 6; i++) {
    offsets[i] = at;
    at += (sizes[i] + 15) / 16 * 16;
  }
  return at;
}

size_t pod_table_fixed_bytes(int32_t batch) {
  size_t off[6];
  layout(batch, 0, off);
  return off[5];
}

static void point(pod_table* t, unsigned char* base) {
  size_t off[6];
  layout(t->batch, t->num_pages_used, off);
  t->qo_indptr = (int32_t*)(base + off[0]);
  t->kv_indptr = (int32_t*)(base + off[1]);
  t->kv_lens = (int32_t*)(base + off[2]);
  t->dense_mask_offsets = (int64_t*)(base + off[3]);
  t->packed_mask_offsets = (int64_t*)(base + off[4]);
  t->kv_indices = (int32_t*)(base + off[5]);
}

int32_t pod_table_build(const pod_paged_table* in, int32_t page_size, int decode, int causal, const char* name, pod_table* out) {
  memset(out, 0, sizeof *out);
  int32_t st;
  if ((st = check_array(&in->qo_indptr, name, "qo_indptr")) || (st = check_array(&in->kv_indptr, name, "kv_indptr")) ||
      (st = check_array(&in->kv_indices, name, "kv_indices")) || (st = check_array(&in->kv_last_page_len, name, "kv_last_page_len")))
    return st;
  if (in->kv_indptr.len < 1)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s.kv_indptr: expected length requests + 1 (at least 1, [0] for no requests), got 0", name);
  int64_t batch = in->kv_indptr.len - 1;
  if ((st = check_indptr(&in->kv_indptr, batch, name, "kv_indptr"))) return st;
  /* More last-page lengths than kv_indptr has requests: the indptr is the short one (every request has
   * one last-page length); fewer: the last-page lengths are missing some. */
  if (in->kv_last_page_len.len > batch)
    return pod_fail(POD_ERR_INVALID_ARGUMENT,
                    "%s.kv_indptr: has %lld entr%s (%lld request%s), but kv_last_page_len has %lld; expected length %lld (requests + 1)", name,
                    (long long)in->kv_indptr.len, in->kv_indptr.len == 1 ? "y" : "ies", (long long)batch, batch == 1 ? "" : "s",
                    (long long)in->kv_last_page_len.len,
                    (long long)in->kv_last_page_len.len + 1);
  if (in->kv_last_page_len.len < batch)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s.kv_last_page_len: expected length %lld (one per request), got %lld", name, (long long)batch,
                    (long long)in->kv_last_page_len.len);
  if (decode) {
    if (in->qo_indptr.len != 0)
      return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s.qo_indptr: the decode side has one query per request; pass no qo_indptr", name);
  } else if ((st = check_indptr(&in->qo_indptr, batch, name, "qo_indptr"))) {
    return st;
  }
  int64_t pages = in->kv_indptr.data[batch];
  if (pages > in->kv_indices.len)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s.kv_indices: kv_indptr ends at %lld but kv_indices has only %lld entries", name,
                    (long long)pages, (long long)in->kv_indices.len);

  out->batch = (int32_t)batch;
  out->num_pages_used = pages;
  size_t off[6];
  out->storage_bytes = layout(batch, pages, off);
  /* The host copy holds the arrays before kv_indices: the page indices go from the caller's array
   * straight into the workspace image (plan() stages them), saving a copy of the largest array. */
  out->storage = malloc(off[5] ? off[5] : 1); /* every array is written below */
  if (out->storage == NULL) return pod_fail(POD_ERR_OUT_OF_MEMORY, "out of host memory for the plan");
  point(out, out->storage);
  out->kv_indices = NULL;
  out->kv_indices_in = in->kv_indices.data;
  out->max_page = -1; /* pod_table_stage_indices checks the indices */
  int64_t dense = 0, packed = 0;
  for (int64_t r = 0; r <= batch; r++) {
    out->kv_indptr[r] = in->kv_indptr.data[r];
    out->qo_indptr[r] = decode ? (int32_t)r : in->qo_indptr.data[r];
  }
  for (int64_t r = 0; r < batch; r++) {
    int64_t n = out->kv_indptr[r + 1] - out->kv_indptr[r];
    int32_t last = in->kv_last_page_len.data[r];
    if (n > 0 && (last < 1 || last > page_size)) {
      pod_table_free(out);
      return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s.kv_last_page_len: entry %lld is %d; it must lie in [1, page_size=%d]", name, (long long)r,
                      last, page_size);
    }
    int64_t kv_len = n > 0 ? (n - 1) * page_size + last : 0;
    if (kv_len > INT32_MAX) {
      pod_table_free(out);
      return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s.kv_indptr: request %lld has %lld keys, more than supported", name, (long long)r,
                      (long long)kv_len);
    }
    int64_t qo_len = out->qo_indptr[r + 1] - out->qo_indptr[r];
    if (causal && qo_len > kv_len) {
      pod_table_free(out);
      return pod_fail(POD_ERR_INVALID_ARGUMENT,
                      "%s.qo_indptr: request %lld has qo_len %lld > kv_len %lld, which causal attention (queries aligned to the end of the KV) does "
                      "not allow",
                      name, (long long)r, (long long)qo_len, (long long)kv_len);
    }
    out->kv_lens[r] = (int32_t)kv_len;
    out->dense_mask_offsets[r] = dense;
    out->packed_mask_offsets[r] = packed;
    dense += qo_len * kv_len;
    packed += (qo_len * kv_len + 7) / 8;
  }
  out->dense_mask_offsets[batch] = dense;
  out->packed_mask_offsets[batch] = packed;
  out->dense_mask_elems = dense;
  out->packed_mask_bytes = packed;
  out->total_q = out->qo_indptr[batch];
  return POD_OK;
}

int32_t pod_table_stage_indices(pod_table* t, int32_t* dst, const char* name) {
  int32_t lo, hi;
  copy_range(dst, t->kv_indices_in, t->num_pages_used, &lo, &hi);
  if (lo < 0) {
    int64_t i = 0;
    while (t->kv_indices_in[i] >= 0) i++;
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s.kv_indices: entry %lld is %d; page indices must be >= 0", name, (long long)i,
                    t->kv_indices_in[i]);
  }
  t->max_page = hi;
  return POD_OK;
}

void pod_table_free(pod_table* t) {
  free(t->storage);
  memset(t, 0, sizeof *t);
}

pod_table pod_table_rebase(const pod_table* t, void* base) {
  pod_table out = *t;
  point(&out, base);
  return out;
}
