#include <math.h>
#include <stddef.h>
#include <string.h>

#include "shim/planner/options.h"
#include "shim/runtime/error.h"

void pod_attention_options_init_impl(pod_attention_options* o) {
  if (o == NULL) return;
  o->struct_size = sizeof *o;
  o->causal = POD_UNSET;
  o->pos_encoding = POD_UNSET;
  o->window_left = POD_UNSET;
  o->sm_scale = NAN;
  o->rope_scale = NAN;
  o->rope_theta = NAN;
  o->logits_soft_cap = NAN;
}

int pod_options_any_set(const pod_attention_options* g) {
  return g->causal != POD_UNSET || g->pos_encoding != POD_UNSET || g->window_left != POD_UNSET || !isnan(g->sm_scale) ||
         !isnan(g->rope_scale) || !isnan(g->rope_theta) || !isnan(g->logits_soft_cap);
}

int32_t pod_resolve_options(const pod_attention_options* g, int32_t head_dim, const char* name, pod_resolved_options* out) {
  if (g->struct_size != 0 && g->struct_size < sizeof *g)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s.struct_size: %u, expected %zu", name, g->struct_size, sizeof *g);
  out->causal = g->causal == POD_UNSET ? 0 : g->causal;
  if (out->causal != 0 && out->causal != 1) return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s.causal: expected 0 or 1, got %d", name, g->causal);
  out->pos_encoding = g->pos_encoding == POD_UNSET ? POD_POS_NONE : g->pos_encoding;
  if (out->pos_encoding < POD_POS_NONE || out->pos_encoding > POD_POS_ALIBI)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s.pos_encoding: expected NONE (0), ROPE_LLAMA (1) or ALIBI (2), got %d", name, g->pos_encoding);
  out->window_left = g->window_left == POD_UNSET ? -1 : g->window_left;
  if (out->window_left < -1)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s.window_left: expected -1 (off) or a size >= 0, got %d", name, g->window_left);
  out->sm_scale = isnan(g->sm_scale) ? 1.0f / sqrtf((float)head_dim) : g->sm_scale;
  if (!isfinite(out->sm_scale)) return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s.sm_scale: expected a finite number, got %g", name, g->sm_scale);
  out->rope_scale = isnan(g->rope_scale) ? 1.0f : g->rope_scale;
  if (!isfinite(out->rope_scale) || out->rope_scale <= 0)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s.rope_scale: expected a finite number > 0, got %g", name, g->rope_scale);
  out->rope_theta = isnan(g->rope_theta) ? 1e4f : g->rope_theta;
  if (!isfinite(out->rope_theta) || out->rope_theta <= 0)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s.rope_theta: expected a finite number > 0, got %g", name, g->rope_theta);
  out->logits_soft_cap = isnan(g->logits_soft_cap) ? 0.0f : g->logits_soft_cap;
  if (!isfinite(out->logits_soft_cap) || out->logits_soft_cap < 0)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s.logits_soft_cap: expected 0 (off) or a finite number > 0, got %g", name, g->logits_soft_cap);
  return POD_OK;
}

static int same_float(float a, float b) { return fabsf(a - b) <= 1e-6f * fmaxf(fabsf(a), fabsf(b)); }

int32_t pod_check_options_match(const pod_attention_options* g, const pod_resolved_options* p, const char* name, const char* where) {
#define POD_INT_FIELD(f)                                                                                                   \
  if (g->f != POD_UNSET && g->f != p->f)                                                                                   \
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s." #f ": run() got %d but plan() set %d; %s", name, g->f, p->f, where);
#define POD_FLOAT_FIELD(f)                                                                                                 \
  if (!isnan(g->f) && !same_float(g->f, p->f))                                                                             \
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s." #f ": run() got %g but plan() set %g; %s", name, g->f, p->f, where);
  POD_INT_FIELD(causal)
  POD_INT_FIELD(pos_encoding)
  POD_INT_FIELD(window_left)
  POD_FLOAT_FIELD(sm_scale)
  POD_FLOAT_FIELD(rope_scale)
  POD_FLOAT_FIELD(rope_theta)
  POD_FLOAT_FIELD(logits_soft_cap)
#undef POD_INT_FIELD
#undef POD_FLOAT_FIELD
  return POD_OK;
}

int32_t pod_options_copy(pod_attention_options* dst, const pod_attention_options* src, const char* name) {
  pod_attention_options_init_impl(dst);
  if (src == NULL) return POD_OK;
  return pod_copy_versioned(dst, sizeof *dst, src, offsetof(pod_attention_options, sm_scale), name);
}
