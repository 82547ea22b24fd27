/* The wrappers' entry points behind the C ABI (abi.c): pod_wrapper_X is pod_wrapper_X_impl. */
#ifndef POD_WRAPPER_API_H
#define POD_WRAPPER_API_H

#include <stdint.h>

#include "pod.h"

int32_t pod_wrapper_create_impl(const pod_wrapper_create_args* args, uint64_t* wrapper);
int32_t pod_wrapper_destroy_impl(uint64_t wrapper);
int32_t pod_wrapper_reset_workspace_impl(uint64_t wrapper, const pod_tensor* workspace);
int32_t pod_wrapper_workspace_size_impl(uint64_t wrapper, const pod_plan_args* args, uint64_t* bytes);
int32_t pod_wrapper_plan_impl(uint64_t wrapper, const pod_plan_args* args);
int32_t pod_wrapper_last_launch_impl(uint64_t wrapper, int32_t* launch);
int32_t pod_wrapper_run_impl(uint64_t wrapper, const pod_run_args* args);
int32_t pod_wrapper_check_impl(uint64_t wrapper);

#endif
