/* A validated paged-KV table (one side of a plan), its host copy and its place in the workspace. */
#ifndef POD_PAGED_TABLE_H
#define POD_PAGED_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "pod.h"

typedef struct pod_table {
  int32_t batch;          /* requests */
  int64_t num_pages_used; /* kv_indptr[batch] */
  int32_t max_page;       /* largest page index, -1 when none (set by pod_table_stage_indices) */
  int64_t total_q;        /* query tokens: qo_indptr[batch], or batch for decode */
  int64_t dense_mask_elems;
  int64_t packed_mask_bytes;
  /* Host copies (one allocation), except kv_indices: NULL in the host table (the image takes them
   * from kv_indices_in, the caller's array, valid during plan()), set in a rebased one. */
  int32_t* qo_indptr;     /* batch + 1 */
  int32_t* kv_indptr;     /* batch + 1 */
  int32_t* kv_indices;    /* num_pages_used */
  const int32_t* kv_indices_in;
  int32_t* kv_lens;       /* batch */
  int64_t* dense_mask_offsets;  /* batch + 1 */
  int64_t* packed_mask_offsets; /* batch + 1 */
  void* storage;
  size_t storage_bytes;   /* bytes of the workspace image */
} pod_table;

/* Validates and copies a table (all but the page indices, see kv_indices_in). decode: qo_indptr must
 * be empty and every request has one query.
 * `causal` rejects requests with more queries than keys. */
int32_t pod_table_build(const pod_paged_table* in, int32_t page_size, int decode, int causal, const char* name, pod_table* out);
/* Copies the page indices from the caller's array to dst (plan()'s staging memory), checking them in
 * the same pass: a negative index is an error naming `name`.kv_indices; sets max_page. */
int32_t pod_table_stage_indices(pod_table* t, int32_t* dst, const char* name);
void pod_table_free(pod_table* t);
/* Bytes of the image before kv_indices: the arrays whose size depends on the batch only. */
size_t pod_table_fixed_bytes(int32_t batch);
/* Repoints the arrays into a workspace image at `base` (storage followed by the page indices). */
pod_table pod_table_rebase(const pod_table* t, void* base);

#endif
