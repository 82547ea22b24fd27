/* Attention on the CPU, one request and head at a time, fp32 accumulation. Keys and values of a request
 * are gathered once per KV head (RoPE applied to the keys), then every query head of the group reads
 * them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_backend.h"
#include "kernels/fill_params.h"

static float load(const pod_tensor* t, int64_t offset) {
  const void* base = (const void*)(uintptr_t)t->data;
  switch (t->dtype) {
    case POD_FLOAT16: return pod_half_to_float(((const uint16_t*)base)[offset]);
    case POD_BFLOAT16: return pod_bf16_to_float(((const uint16_t*)base)[offset]);
    case POD_FLOAT32: return ((const float*)base)[offset];
    case POD_FLOAT8_E4M3: case POD_FLOAT8_E5M2: return pod_fp8_to_float(((const uint8_t*)base)[offset], t->dtype);
    default: return 0.0f;
  }
}

static void store(const pod_tensor* t, int64_t offset, float v) {
  void* base = (void*)(uintptr_t)t->data;
  switch (t->dtype) {
    case POD_FLOAT16: ((uint16_t*)base)[offset] = pod_float_to_half(v); break;
    case POD_BFLOAT16: ((uint16_t*)base)[offset] = pod_float_to_bf16(v); break;
    case POD_FLOAT32: ((float*)base)[offset] = v; break;
    default: break;
  }
}

/* Element offset of key/value token j of request r, head h, dim 0. */
static int64_t kv_offset(const pod_side* s, const pod_tensor* t, int32_t r, int64_t j, int32_t h) {
  if (!s->paged) return s->kv_layout == POD_NHD ? j * t->strides[0] + h * t->strides[1] : h * t->strides[0] + j * t->strides[1];
  int64_t page = s->kv_indices[s->kv_indptr[r] + j / s->page_size];
  int64_t slot = j % s->page_size;
  return page * t->strides[0] + (s->kv_layout == POD_NHD ? slot * t->strides[1] + h * t->strides[2] : h * t->strides[1] + slot * t->strides[2]);
}

static int visible_by_mask(const pod_side* s, int32_t r, int64_t i, int64_t j, int64_t kv_len) {
  if (s->mask_mode == 0) return 1;
  const unsigned char* m = (const unsigned char*)(uintptr_t)s->mask.data;
  if (s->mask_mode == 2) {
    int64_t bit = i * kv_len + j;
    return (m[s->mask_offsets[r] + bit / 8] >> (bit % 8)) & 1;
  }
  if (s->mask.ndim == 2) return m[i * s->mask.strides[0] + j * s->mask.strides[1]] != 0;
  return m[(s->mask_offsets[r] + i * kv_len + j) * s->mask.strides[0]] != 0;
}

/* Rotate-half RoPE of a head_dim vector at position pos, in place. */
static void rope(float* x, int32_t head_dim, double pos, const pod_resolved_options* o) {
  int32_t half = head_dim / 2;
  for (int32_t d = 0; d < half; d++) {
    double freq = pow((double)o->rope_theta, -2.0 * d / head_dim) / o->rope_scale;
    double angle = pos * freq;
    float c = (float)cos(angle), sn = (float)sin(angle);
    float a = x[d], b = x[d + half];
    x[d] = a * c - b * sn;
    x[d + half] = b * c + a * sn;
  }
}

static float alibi_slope(int32_t head, int32_t heads) {
  int32_t m = 1;
  while (m * 2 <= heads) m *= 2;
  if (head < m) return powf(2.0f, -8.0f * (float)(head + 1) / (float)m);
  return powf(2.0f, -4.0f * (float)(2 * (head - m) + 1) / (float)m);
}

int32_t pod_cpu_attention(const pod_side* s) {
  const pod_resolved_options* o = &s->options;
  const int32_t D = s->head_dim, group = s->num_qo_heads / s->num_kv_heads;
  int64_t max_kv = 0;
  for (int32_t r = 0; r < s->num_requests; r++)
    if (s->kv_lens[r] > max_kv) max_kv = s->kv_lens[r];
  float* keys = malloc((size_t)(max_kv * D + 1) * sizeof(float));
  float* values = malloc((size_t)(max_kv * D + 1) * sizeof(float));
  float* scores = malloc((size_t)(max_kv + 1) * sizeof(float));
  float* q = malloc((size_t)D * sizeof(float));
  float* acc = malloc((size_t)D * sizeof(float));
  if (!keys || !values || !scores || !q || !acc) {
    free(keys), free(values), free(scores), free(q), free(acc);
    return pod_fail(POD_ERR_OUT_OF_MEMORY, "out of host memory in the CPU backend");
  }
  for (int32_t r = 0; r < s->num_requests; r++) {
    const int64_t kv_len = s->kv_lens[r];
    const int64_t q_start = s->qo_indptr[r], qo_len = s->qo_indptr[r + 1] - q_start;
    for (int32_t kh = 0; kh < s->num_kv_heads; kh++) {
      for (int64_t j = 0; j < kv_len; j++) {
        int64_t ko = kv_offset(s, &s->k, r, j, kh), vo = kv_offset(s, &s->v, r, j, kh);
        for (int32_t d = 0; d < D; d++) {
          keys[j * D + d] = load(&s->k, ko + d);
          values[j * D + d] = load(&s->v, vo + d);
        }
        if (o->pos_encoding == POD_POS_ROPE_LLAMA) rope(keys + j * D, D, (double)j, o);
      }
      for (int32_t g = 0; g < group; g++) {
        const int32_t h = kh * group + g;
        const float slope = o->pos_encoding == POD_POS_ALIBI ? alibi_slope(h, s->num_qo_heads) : 0.0f;
        for (int64_t i = 0; i < qo_len; i++) {
          const int64_t token = q_start + i, pos = kv_len - qo_len + i;
          const int64_t qo_off = token * s->q.strides[0] + h * s->q.strides[1];
          for (int32_t d = 0; d < D; d++) q[d] = load(&s->q, qo_off + d);
          if (o->pos_encoding == POD_POS_ROPE_LLAMA) rope(q, D, (double)pos, o);
          float max_score = -INFINITY;
          for (int64_t j = 0; j < kv_len; j++) {
            int visible = (!o->causal || j <= pos) && (o->window_left < 0 || j >= pos - o->window_left) && visible_by_mask(s, r, i, j, kv_len);
            if (!visible) {
              scores[j] = -INFINITY;
              continue;
            }
            float dot = 0.0f;
            for (int32_t d = 0; d < D; d++) dot += q[d] * keys[j * D + d];
            float sc = dot * o->sm_scale;
            if (o->logits_soft_cap > 0.0f) sc = o->logits_soft_cap * tanhf(sc / o->logits_soft_cap);
            if (o->pos_encoding == POD_POS_ALIBI) sc += slope * (float)(j - pos);
            scores[j] = sc;
            if (sc > max_score) max_score = sc;
          }
          memset(acc, 0, (size_t)D * sizeof(float));
          float sum = 0.0f;
          if (max_score > -INFINITY) {
            for (int64_t j = 0; j < kv_len; j++) {
              if (scores[j] == -INFINITY) continue;
              float p = expf(scores[j] - max_score);
              sum += p;
              for (int32_t d = 0; d < D; d++) acc[d] += p * values[j * D + d];
            }
          }
          const int64_t out_off = token * s->o.strides[0] + h * s->o.strides[1];
          for (int32_t d = 0; d < D; d++) store(&s->o, out_off + d, sum > 0.0f ? acc[d] / sum * s->v_scale : 0.0f);
          if (s->lse.data)
            ((float*)(uintptr_t)s->lse.data)[token * s->lse.strides[0] + h * s->lse.strides[1]] =
                sum > 0.0f ? max_score + logf(sum) : -INFINITY;
        }
      }
    }
  }
  free(keys), free(values), free(scores), free(q), free(acc);
  return POD_OK;
}

int32_t pod_cpu_fill(const pod_tensor* t, double start, double step, uint64_t seed, int random) {
  int64_t total = 1;
  for (int i = 0; i < t->ndim; i++) total *= t->shape[i];
  unsigned char* base = (unsigned char*)(uintptr_t)t->data;
  for (int64_t i = 0; i < total; i++) {
    int64_t rest = i, offset = 0;
    for (int d = t->ndim - 1; d >= 0; d--) {
      offset += (rest % t->shape[d]) * t->strides[d];
      rest /= t->shape[d];
    }
    double v = random ? start + (step - start) * pod_uniform(seed, (uint64_t)i) : start + (double)i * step;
    switch (t->dtype) {
      case POD_FLOAT32: ((float*)base)[offset] = (float)v; break;
      case POD_FLOAT16: ((uint16_t*)base)[offset] = pod_float_to_half((float)v); break;
      case POD_BFLOAT16: ((uint16_t*)base)[offset] = pod_float_to_bf16((float)v); break;
      /* Integer dtypes saturate (out-of-range conversions are undefined in C). */
      case POD_INT32: ((int32_t*)base)[offset] = (int32_t)(v != v ? 0 : v < -2147483648.0 ? -2147483648.0 : v > 2147483647.0 ? 2147483647.0 : v); break;
      case POD_UINT8: base[offset] = (unsigned char)(v != v ? 0 : v < 0 ? 0 : v > 255 ? 255 : v); break;
      case POD_BOOL: base[offset] = v != 0.0; break;
      case POD_FLOAT8_E4M3: case POD_FLOAT8_E5M2: base[offset] = pod_float_to_fp8((float)v, t->dtype); break;
    }
  }
  return POD_OK;
}
