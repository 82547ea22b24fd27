/* The C ABI (pod.h): every exported function, each forwarding to its implementation in the file of
 * its role (pod_X is pod_X_impl). */
#include "pod.h"
#include "shim/wrappers/wrapper_api.h"

POD_API int32_t pod_wrapper_create(const pod_wrapper_create_args* args, uint64_t* wrapper) { return pod_wrapper_create_impl(args, wrapper); }
POD_API int32_t pod_wrapper_destroy(uint64_t wrapper) { return pod_wrapper_destroy_impl(wrapper); }
POD_API int32_t pod_wrapper_reset_workspace(uint64_t wrapper, const pod_tensor* workspace) {
  return pod_wrapper_reset_workspace_impl(wrapper, workspace);
}
POD_API int32_t pod_wrapper_workspace_size(uint64_t wrapper, const pod_plan_args* args, uint64_t* bytes) {
  return pod_wrapper_workspace_size_impl(wrapper, args, bytes);
}
POD_API int32_t pod_wrapper_plan(uint64_t wrapper, const pod_plan_args* args) { return pod_wrapper_plan_impl(wrapper, args); }
POD_API int32_t pod_wrapper_run(uint64_t wrapper, const pod_run_args* args) { return pod_wrapper_run_impl(wrapper, args); }
POD_API int32_t pod_wrapper_last_launch(uint64_t wrapper, int32_t* launch) { return pod_wrapper_last_launch_impl(wrapper, launch); }
