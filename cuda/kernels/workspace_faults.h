/* Faults the attention kernels report, shared by the kernels (CUDA) and the shim (C). A kernel bounds
 * every count and index it takes from the workspace (work and merge items, page tables, counters) by
 * the sizes of its launch; a value out of range means the plan in the workspace was overwritten after
 * plan(). The CTA then skips its item (it writes no output) and stores the fault in the wrapper's
 * fault record, which the host reads at the next plan() or run() of the wrapper and in
 * pod_wrapper_check(). */
#ifndef POD_WORKSPACE_FAULTS_H
#define POD_WORKSPACE_FAULTS_H

#include <stdint.h>

enum {
  POD_FAULT_NONE = 0,
  POD_FAULT_REQUEST = 1,  /* a work or merge item names a request past the batch */
  POD_FAULT_QUERIES = 2,  /* a request's queries (qo_indptr) lie outside the query tensor */
  POD_FAULT_KEYS = 3,     /* an item's key range exceeds its request's keys, or the keys exceed the request's pages */
  POD_FAULT_PAGES = 4,    /* a request's page range (kv_indptr) lies outside the page indices */
  POD_FAULT_PAGE_ID = 5,  /* a page index is not below the cache's page count */
  POD_FAULT_ROWS = 6,     /* an item's first row lies past its request's rows, or a merge item's KV head past the heads */
  POD_FAULT_SLOT = 7,     /* an item's partial-result slot or merge item lies past its list */
  POD_FAULT_MERGE = 8,    /* a merge item's parts (first, count, stride) or its arrival count are out of range */
  POD_FAULT_COUNTER = 9,  /* a POD launch's claim counters are out of range */
  POD_FAULT_MASK = 10,    /* a request's custom-mask offset lies outside the mask */
  POD_FAULT_COUNT = 11
};

/* Who found it: the side's kernel (POD_SIDE_DECODE + 1, POD_SIDE_PREFILL + 1) or a POD launch's roles. */
enum { POD_FAULT_BY_DECODE = 1, POD_FAULT_BY_PREFILL = 2, POD_FAULT_BY_LAUNCH = 3 };

/* fault = by << 8 | code (0: none); item: the work item, merge item or CTA it concerns. Kernels store
 * `item` first, then `fault`; racing CTAs may leave any one fault of the launch. */
typedef struct pod_fault_record {
  uint32_t fault;
  uint32_t item;
  uint32_t reserved[2];
} pod_fault_record;

#endif
