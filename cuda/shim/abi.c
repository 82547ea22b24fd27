/* The C ABI (pod.h): every exported function, each forwarding to its implementation in the file of
 * its role (pod_X is pod_X_impl), so the exported surface is this file and nothing else. */
#include "pod.h"
#include "shim/planner/options.h"
#include "shim/runtime/device.h"
#include "shim/runtime/error.h"
#include "shim/runtime/graph.h"
#include "shim/runtime/memory.h"
#include "shim/runtime/pointer_check.h"
#include "shim/runtime/stream.h"
#include "shim/wrappers/wrapper_api.h"

/* Errors and library metadata (runtime/error.c) */
POD_API const char* pod_last_error(void) { return pod_last_error_impl(); }
POD_API uint32_t pod_version(void) { return pod_version_impl(); }
POD_API const char* pod_status_name(int32_t status) { return pod_status_name_impl(status); }
POD_API uint32_t pod_struct_size(const char* name) { return pod_struct_size_impl(name); }

/* Devices (runtime/device.c) */
POD_API int32_t pod_cuda_device_count(int32_t* count) { return pod_cuda_device_count_impl(count); }
POD_API int32_t pod_device_props_get(int32_t device, pod_device_props* props) { return pod_device_props_get_impl(device, props); }
POD_API int32_t pod_device_memory_info(int32_t device, uint64_t* free_bytes, uint64_t* total_bytes) {
  return pod_device_memory_info_impl(device, free_bytes, total_bytes);
}
POD_API int32_t pod_device_synchronize(int32_t device) { return pod_device_synchronize_impl(device); }
POD_API int32_t pod_device_memory_stats(int32_t device, pod_memory_stats* stats) { return pod_device_memory_stats_impl(device, stats); }
POD_API int32_t pod_pointer_device(int32_t near, uint64_t ptr, int32_t* device) { return pod_pointer_device_impl(near, ptr, device); }
POD_API int32_t pod_pointer_check(int32_t device, uint64_t ptr, uint64_t bytes) { return pod_pointer_check_impl(device, ptr, bytes); }

/* Streams and events (runtime/stream.c) */
POD_API int32_t pod_stream_create(int32_t device, uint64_t* stream) { return pod_stream_create_impl(device, stream); }
POD_API int32_t pod_stream_wrap(int32_t device, uint64_t cu_stream, uint64_t* stream) { return pod_stream_wrap_impl(device, cu_stream, stream); }
POD_API int32_t pod_stream_native(uint64_t stream, uint64_t* cu_stream) { return pod_stream_native_impl(stream, cu_stream); }
POD_API int32_t pod_stream_destroy(uint64_t stream) { return pod_stream_destroy_impl(stream); }
POD_API int32_t pod_stream_synchronize(int32_t device, uint64_t stream) { return pod_stream_synchronize_impl(device, stream); }
POD_API int32_t pod_stream_is_capturing(int32_t device, uint64_t stream, int32_t* capturing) {
  return pod_stream_is_capturing_impl(device, stream, capturing);
}
POD_API int32_t pod_event_create(int32_t device, uint64_t* event) { return pod_event_create_impl(device, event); }
POD_API int32_t pod_event_destroy(uint64_t event) { return pod_event_destroy_impl(event); }
POD_API int32_t pod_event_record(uint64_t event, uint64_t stream) { return pod_event_record_impl(event, stream); }
POD_API int32_t pod_event_synchronize(uint64_t event) { return pod_event_synchronize_impl(event); }
POD_API int32_t pod_event_elapsed_ms(uint64_t start, uint64_t end, float* ms) { return pod_event_elapsed_ms_impl(start, end, ms); }

/* Graphs (runtime/graph.c) */
POD_API int32_t pod_graph_begin_capture(int32_t device, uint64_t stream, int32_t mode) { return pod_graph_begin_capture_impl(device, stream, mode); }
POD_API int32_t pod_graph_end_capture(int32_t device, uint64_t stream, uint64_t* graph) { return pod_graph_end_capture_impl(device, stream, graph); }
POD_API int32_t pod_graph_instantiate(uint64_t graph, uint64_t* exec) { return pod_graph_instantiate_impl(graph, exec); }
POD_API int32_t pod_graph_launch(uint64_t exec, uint64_t stream) { return pod_graph_launch_impl(exec, stream); }
POD_API int32_t pod_graph_update(uint64_t exec, uint64_t graph) { return pod_graph_update_impl(exec, graph); }
POD_API int32_t pod_graph_destroy(uint64_t graph) { return pod_graph_destroy_impl(graph); }
POD_API int32_t pod_graph_exec_destroy(uint64_t exec) { return pod_graph_exec_destroy_impl(exec); }

/* Memory (runtime/memory.c) */
POD_API int32_t pod_malloc(int32_t device, uint64_t bytes, uint64_t stream, uint64_t* ptr) { return pod_malloc_impl(device, bytes, stream, ptr); }
POD_API int32_t pod_free(int32_t device, uint64_t ptr, uint64_t stream) { return pod_free_impl(device, ptr, stream); }
POD_API int32_t pod_memset(int32_t device, uint64_t ptr, uint8_t value, uint64_t bytes, uint64_t stream) {
  return pod_memset_impl(device, ptr, value, bytes, stream);
}
POD_API int32_t pod_memcpy(int32_t device, uint64_t dst, uint64_t src, uint64_t bytes, int32_t kind, uint64_t stream) {
  return pod_memcpy_impl(device, dst, src, bytes, kind, stream);
}
POD_API int32_t pod_tensor_fill(const pod_tensor* tensor, double start, double step, uint64_t stream) {
  return pod_tensor_fill_impl(tensor, start, step, stream);
}
POD_API int32_t pod_tensor_fill_random(const pod_tensor* tensor, uint64_t seed, double low, double high, uint64_t stream) {
  return pod_tensor_fill_random_impl(tensor, seed, low, high, stream);
}
POD_API int32_t pod_probe_mma(int32_t device, int32_t blocks, int32_t iterations, uint64_t sink, uint64_t stream, double* flops) {
  return pod_probe_mma_impl(device, blocks, iterations, sink, stream, flops);
}

/* Attention options (planner/options.c) */
POD_API void pod_attention_options_init(pod_attention_options* options) { pod_attention_options_init_impl(options); }

/* Wrappers (wrappers/) */
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
POD_API int32_t pod_wrapper_check(uint64_t wrapper) { return pod_wrapper_check_impl(wrapper); }
