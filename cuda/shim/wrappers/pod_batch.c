/* The batch POD wrapper (BatchPODWithPagedKVCacheWrapper): plan() takes both sides' paged tables
 * and prefill options and schedules both; run() takes the prefill side's queries, its paged cache
 * (in the wrapper's layout) and an optional custom mask. */
#include "pod.h"
#include "shim/attention_problem.h"
#include "shim/planner/options.h"
#include "shim/planner/paged_table.h"
#include "shim/planner/plan_state.h"
#include "shim/runtime/error.h"
#include "shim/runtime/tensor_check.h"
#include "shim/wrappers/wrapper.h"

static int32_t plan_prefill_options(const pod_plan_args* a, pod_plan_state* plan) {
  return pod_resolve_options(a->prefill_options, a->head_dim, "prefill_options", &plan->shape.options[POD_SIDE_PREFILL]);
}

static int32_t plan_prefill_table(const pod_plan_args* a, pod_plan_state* plan) {
  return pod_table_build(&a->prefill, a->page_size, 0, plan->shape.options[POD_SIDE_PREFILL].causal, "prefill", &plan->table[POD_SIDE_PREFILL]);
}

static const char* layout_name(int32_t l) { return l == POD_HND ? "HND" : "NHD"; }

static int32_t run_prefill(const pod_wrapper* w, const pod_run_args* a, pod_side* prefill, pod_run_request* request) {
  if (a->kv_layout_p != POD_UNSET && a->kv_layout_p != w->kv_layout)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "kv_layout_p: %s differs from the wrapper's %s; the batch wrapper's caches share its layout",
                    layout_name(a->kv_layout_p), layout_name(w->kv_layout));
  const pod_table* table = pod_run_table(w, POD_SIDE_PREFILL);
  const pod_table* planned = &w->plan.table[POD_SIDE_PREFILL];
  int32_t st = pod_run_paged_side(w, table, &w->plan.shape.options[POD_SIDE_PREFILL], a->options_p, &a->q_p, &a->k_p, &a->v_p, &a->o_p,
                                  &a->lse_p, 1, prefill);
  if (st == POD_OK && w->use_graph && pod_tensor_present(&a->mask_p)) {
    st = pod_fail(POD_ERR_NOT_IMPLEMENTED,
                  "mask_p: in CUDA graph mode the batch wrapper takes no custom mask: its size follows the KV lengths, which a plan "
                  "may change under a captured run()");
  } else if (st == POD_OK && planned->batch > 0) {
    prefill->mask_offsets = a->mask_p_packed == POD_MASK_PACKED ? table->packed_mask_offsets : table->dense_mask_offsets;
    st = pod_run_check_mask(w, prefill, &a->mask_p, a->mask_p_packed, 0, 0, 0, planned->dense_mask_elems, planned->packed_mask_bytes);
  } else if (st == POD_OK && pod_tensor_present(&a->mask_p)) {
    st = pod_fail(POD_ERR_INVALID_ARGUMENT, "mask_p: given, but the plan has no prefill request");
  }
  return st;
}

const pod_wrapper_kind_ops pod_batch_prefill_kind = {
    .plans_prefill = 1,
    .plan_prefill_options = plan_prefill_options,
    .plan_prefill_table = plan_prefill_table,
    .run_prefill = run_prefill,
};
