/* Element types: sizes and names (dtype.h). */
#include "pod.h"
#include "shim/runtime/dtype.h"

int32_t pod_dtype_size(int32_t dtype) {
  switch (dtype) {
    case POD_FLOAT32: case POD_INT32: return 4;
    case POD_FLOAT16: case POD_BFLOAT16: return 2;
    case POD_UINT8: case POD_BOOL: case POD_FLOAT8_E4M3: case POD_FLOAT8_E5M2: return 1;
    default: return 0;
  }
}

int pod_dtype_is_fp8(int32_t dtype) { return dtype == POD_FLOAT8_E4M3 || dtype == POD_FLOAT8_E5M2; }

const char* pod_dtype_name(int32_t dtype) {
  switch (dtype) {
    case POD_FLOAT32: return "float32";
    case POD_FLOAT16: return "float16";
    case POD_BFLOAT16: return "bfloat16";
    case POD_INT32: return "int32";
    case POD_UINT8: return "uint8";
    case POD_BOOL: return "bool";
    case POD_FLOAT8_E4M3: return "float8_e4m3fn";
    case POD_FLOAT8_E5M2: return "float8_e5m2";
    default: return "unknown dtype";
  }
}
