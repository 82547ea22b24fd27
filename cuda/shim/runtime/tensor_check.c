#include <stdio.h>
#include <string.h>

#include "shim/runtime/dtype.h"
#include "shim/runtime/error.h"
#include "shim/runtime/tensor_check.h"

int64_t pod_tensor_numel(const pod_tensor* t) {
  int64_t n = 1;
  for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
  return n;
}

const char* pod_shape_str(const pod_tensor* t, char* buf, size_t size) {
  size_t used = (size_t)snprintf(buf, size, "[");
  for (int i = 0; i < t->ndim && i < POD_MAX_DIMS && used < size; i++)
    used += (size_t)snprintf(buf + used, size - used, i ? ", %lld" : "%lld", (long long)t->shape[i]);
  if (used < size) snprintf(buf + used, size - used, "]");
  return buf;
}

int32_t pod_check_tensor(const pod_tensor* t, const char* name, int32_t device) {
  if (t->ndim < 0 || t->ndim > POD_MAX_DIMS)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: ndim %d is outside [0, %d]", name, t->ndim, POD_MAX_DIMS);
  for (int i = 0; i < t->ndim; i++)
    if (t->shape[i] < 0) return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: dimension %d has negative extent %lld", name, i, (long long)t->shape[i]);
  if (pod_dtype_size(t->dtype) == 0) return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: unknown dtype code %d", name, t->dtype);
  if (!pod_tensor_present(t)) return POD_OK; /* absent: callers decide whether that is allowed */
  if (t->data == 0 && pod_tensor_numel(t) > 0) return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: null data pointer", name);
  if (t->device != device)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: is on device %s%d, expected %s%d (all tensors of a call must be on the wrapper's device)", name,
                    t->device == POD_DEVICE_CPU ? "cpu " : "cuda:", t->device, device == POD_DEVICE_CPU ? "cpu " : "cuda:", device);
  return POD_OK;
}

int32_t pod_check_shape(const pod_tensor* t, const char* name, int32_t ndim, const int64_t* shape, const char* form) {
  int ok = t->ndim == ndim;
  for (int i = 0; ok && i < ndim; i++) ok = shape[i] < 0 || shape[i] == t->shape[i];
  if (ok) return POD_OK;
  char want[160], got[160];
  size_t used = (size_t)snprintf(want, sizeof want, "[");
  for (int i = 0; i < ndim && used < sizeof want; i++)
    used += shape[i] < 0 ? (size_t)snprintf(want + used, sizeof want - used, i ? ", *" : "*")
                         : (size_t)snprintf(want + used, sizeof want - used, i ? ", %lld" : "%lld", (long long)shape[i]);
  if (used < sizeof want) snprintf(want + used, sizeof want - used, "]");
  return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: expected shape %s (%s), got %s", name, want, form, pod_shape_str(t, got, sizeof got));
}

int32_t pod_check_dtype(const pod_tensor* t, const char* name, const int32_t* allowed, int count) {
  for (int i = 0; i < count; i++)
    if (t->dtype == allowed[i]) return POD_OK;
  char list[128] = "";
  for (int i = 0; i < count; i++) {
    strncat(list, i ? " or " : "", sizeof list - strlen(list) - 1);
    strncat(list, pod_dtype_name(allowed[i]), sizeof list - strlen(list) - 1);
  }
  return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: expected dtype %s, got %s", name, list, pod_dtype_name(t->dtype));
}

int32_t pod_check_inner_contiguous(const pod_tensor* t, const char* name) {
  if (t->ndim > 0 && t->shape[t->ndim - 1] > 1 && t->strides[t->ndim - 1] != 1)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "%s: the last dimension must have stride 1, got stride %lld", name,
                    (long long)t->strides[t->ndim - 1]);
  return POD_OK;
}

pod_tensor pod_tensor_select(const pod_tensor* t, int dim, int64_t index) {
  pod_tensor out = *t;
  out.data = t->data + (uint64_t)(index * t->strides[dim] * pod_dtype_size(t->dtype));
  out.ndim = t->ndim - 1;
  for (int i = dim; i < out.ndim; i++) {
    out.shape[i] = t->shape[i + 1];
    out.strides[i] = t->strides[i + 1];
  }
  out.shape[out.ndim] = 0;
  out.strides[out.ndim] = 0;
  return out;
}
