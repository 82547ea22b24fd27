/* Element types: sizes and names. */
#ifndef POD_DTYPE_H
#define POD_DTYPE_H

#include <stdint.h>

int32_t pod_dtype_size(int32_t dtype);
const char* pod_dtype_name(int32_t dtype);
/* POD_FLOAT8_E4M3 or POD_FLOAT8_E5M2. */
int pod_dtype_is_fp8(int32_t dtype);

#endif
