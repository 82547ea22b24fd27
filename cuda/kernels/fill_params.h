/* Parameters of the fill kernel, shared by the shim (C) and the kernel (CUDA). */
#ifndef POD_FILL_PARAMS_H
#define POD_FILL_PARAMS_H

#include <stdint.h>

typedef struct pod_fill_params {
  uint64_t data;
  int32_t dtype; /* pod_dtype */
  int32_t ndim;
  int64_t shape[6];
  int64_t strides[6];
  int64_t total;
  double start;
  double step;
} pod_fill_params;

#endif
