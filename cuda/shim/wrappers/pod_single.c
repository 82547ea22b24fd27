/* The single-prefill POD wrapper (PODWithPagedKVCacheWrapper): plan() takes the decode side's paged
 * table only; run() takes the whole prefill request, one contiguous K/V of its own, with its options
 * and mask, and launches it without a schedule (one implicit request). */
#include "pod.h"
#include "shim/attention_problem.h"
#include "shim/planner/options.h"
#include "shim/planner/plan_state.h"
#include "shim/runtime/error.h"
#include "shim/runtime/tensor_check.h"
#include "shim/wrappers/wrapper.h"

static int32_t plan_prefill_options(const pod_plan_args* a, pod_plan_state* plan) {
  const pod_paged_table* p = &a->prefill;
  if (p->qo_indptr.len || p->kv_indptr.len || p->kv_indices.len || p->kv_last_page_len.len)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "prefill: the single-prefill wrapper takes its prefill request in run() (q_p, k_p, v_p); pass no prefill table");
  if (pod_options_any_set(a->prefill_options))
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "prefill_options: the single-prefill wrapper takes prefill options in run() (options_p)");
  return POD_OK;
}

static int32_t plan_prefill_table(const pod_plan_args* a, pod_plan_state* plan) { return POD_OK; }

static const int32_t half_types[] = {POD_FLOAT16, POD_BFLOAT16};

/* The prefill request comes entirely from run(). */
static int32_t run_prefill(const pod_wrapper* w, const pod_run_args* a, pod_side* s, pod_run_request* request) {
  int32_t st;
  if (!pod_tensor_present(&a->q_p)) {
    if (pod_tensor_present(&a->k_p) || pod_tensor_present(&a->v_p) || pod_tensor_present(&a->mask_p) || pod_tensor_present(&a->o_p) ||
        pod_tensor_present(&a->lse_p))
      return pod_fail(POD_ERR_INVALID_ARGUMENT, "q_p: absent, but k_p, v_p, mask_p, o_p or lse_p was given");
    return POD_OK;
  }
  const pod_tensor* q = &a->q_p;
  if ((st = pod_check_tensor(q, "q_p", w->device))) return st;
  if (q->ndim != 3) {
    char got[160];
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "q_p: expected 3 dimensions [qo_len, num_qo_heads, head_dim], got %s", pod_shape_str(q, got, sizeof got));
  }
  if ((st = pod_check_dtype(q, "q_p", half_types, 2))) return st;
  int64_t qo = q->shape[0];
  int32_t heads = (int32_t)q->shape[1], head_dim = (int32_t)q->shape[2];
  if (head_dim != 64 && head_dim != 128 && head_dim != 256)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "q_p: head_dim (last dimension) must be 64, 128 or 256, got %d", head_dim);
  if (heads <= 0) return pod_fail(POD_ERR_INVALID_ARGUMENT, "q_p: num_qo_heads (dimension 1) must be positive");
  int32_t layout = a->kv_layout_p == POD_UNSET ? w->kv_layout : a->kv_layout_p;
  if (layout != POD_NHD && layout != POD_HND)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "kv_layout_p: expected NHD (0) or HND (1), got %d", a->kv_layout_p);
  const char* form = layout == POD_NHD ? "[kv_len, num_kv_heads, head_dim] (NHD)" : "[num_kv_heads, kv_len, head_dim] (HND)";
  const pod_tensor *k = &a->k_p, *v = &a->v_p;
  if ((st = pod_check_tensor(k, "k_p", w->device)) || (st = pod_check_tensor(v, "v_p", w->device))) return st;
  if (!pod_tensor_present(k) || !pod_tensor_present(v))
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: missing; the prefill request needs k_p and v_p", pod_tensor_present(k) ? "v_p" : "k_p");
  if (k->ndim != 3) {
    char got[160];
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "k_p: expected 3 dimensions %s, got %s", form, pod_shape_str(k, got, sizeof got));
  }
  int64_t kv = layout == POD_NHD ? k->shape[0] : k->shape[1];
  int64_t kv_heads = layout == POD_NHD ? k->shape[1] : k->shape[0];
  if (kv_heads <= 0 || heads % kv_heads != 0)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "k_p: num_qo_heads %d is not a multiple of num_kv_heads %lld", heads, (long long)kv_heads);
  if (kv > INT32_MAX) return pod_fail(POD_ERR_INVALID_ARGUMENT, "k_p: kv_len %lld is too large", (long long)kv);
  int64_t kshape[3] = {layout == POD_NHD ? kv : kv_heads, layout == POD_NHD ? kv_heads : kv, head_dim};
  /* k_p and v_p: q's dtype, or one fp8 type for both */
  const int32_t dt[] = {q->dtype, POD_FLOAT8_E4M3, POD_FLOAT8_E5M2};
  const int32_t k_dt[] = {k->dtype};
  if ((st = pod_check_shape(k, "k_p", 3, kshape, form)) || (st = pod_check_shape(v, "v_p", 3, kshape, form)) ||
      (st = pod_check_dtype(k, "k_p", dt, 3)) || (st = pod_check_dtype(v, "v_p", k_dt, 1)) || (st = pod_check_inner_contiguous(k, "k_p")) ||
      (st = pod_check_inner_contiguous(v, "v_p")))
    return st;
  if ((st = pod_resolve_options(a->options_p, head_dim, "options_p", &s->options))) return st;
  if (s->options.causal && qo > kv)
    return pod_fail(POD_ERR_INVALID_ARGUMENT,
                    "q_p: qo_len %lld > kv_len %lld, which causal attention (queries aligned to the end of the KV) does not allow", (long long)qo,
                    (long long)kv);
  s->num_qo_heads = heads;
  s->num_kv_heads = (int32_t)kv_heads;
  s->head_dim = head_dim;
  s->kv_layout = layout;
  s->paged = 0;
  s->k = *k;
  s->v = *v;
  if ((st = pod_run_check_q_o_lse(w, s, q, &a->o_p, &a->lse_p, qo, heads, head_dim, q->dtype, "q_p", "o_p", "lse_p"))) return st;
  if ((st = pod_run_check_mask(w, s, &a->mask_p, a->mask_p_packed, 1, qo, kv, qo * kv, (qo * kv + 7) / 8))) return st;
  int32_t* tables = request->tables;
  tables[0] = 0;
  tables[1] = (int32_t)qo;
  tables[2] = (int32_t)kv;
  request->mask_offsets[0] = request->mask_offsets[1] = 0;
  s->qo_indptr = tables;
  s->kv_lens = tables + 2;
  s->mask_offsets = request->mask_offsets;
  s->num_requests = 1;
  return POD_OK;
}

const pod_wrapper_kind_ops pod_single_prefill_kind = {
    .plans_prefill = 0,
    .plan_prefill_options = plan_prefill_options,
    .plan_prefill_table = plan_prefill_table,
    .run_prefill = run_prefill,
};
