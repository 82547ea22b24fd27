/* Validation of tensor arguments: each failure names the argument and the expected form. */
#ifndef POD_TENSOR_CHECK_H
#define POD_TENSOR_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "pod.h"

static inline int pod_tensor_present(const pod_tensor* t) { return t->data != 0 || t->ndim != 0; }
int64_t pod_tensor_numel(const pod_tensor* t);
/* Writes "[a, b, c]" into buf. */
const char* pod_shape_str(const pod_tensor* t, char* buf, size_t size);

/* Basic soundness: ndim, non-negative shape, known dtype, non-null data when non-empty, device. */
int32_t pod_check_tensor(const pod_tensor* t, const char* name, int32_t device);
/* Exact rank and shape; -1 in `shape` accepts any extent. `form` describes the expected layout. */
int32_t pod_check_shape(const pod_tensor* t, const char* name, int32_t ndim, const int64_t* shape, const char* form);
/* dtype must be one of `allowed` (count entries). */
int32_t pod_check_dtype(const pod_tensor* t, const char* name, const int32_t* allowed, int count);
/* The innermost dimension must be contiguous (attention inputs and outputs). */
int32_t pod_check_inner_contiguous(const pod_tensor* t, const char* name);
/* A view of t without dimension `dim`, at index `index` of it. */
pod_tensor pod_tensor_select(const pod_tensor* t, int dim, int64_t index);

#endif
