/* CPU graphs: the wrapper run() calls recorded on a capturing CPU stream. */
#ifndef POD_GRAPH_H
#define POD_GRAPH_H

#include "pod.h"
#include "shim/runtime/stream.h"

/* Appends a validated run() call to a CPU stream's capture. */
int32_t pod_recording_add_run(pod_recording* r, uint64_t wrapper, const pod_run_args* args);
/* Frees a recording (NULL: nothing). */
void pod_recording_free(pod_recording* r);

/* The entry points of pod.h implemented here (abi.c exports them). */
int32_t pod_graph_begin_capture_impl(int32_t device, uint64_t stream, int32_t mode);
int32_t pod_graph_end_capture_impl(int32_t device, uint64_t stream, uint64_t* graph);
int32_t pod_graph_instantiate_impl(uint64_t graph, uint64_t* exec);
int32_t pod_graph_launch_impl(uint64_t exec, uint64_t stream);
int32_t pod_graph_update_impl(uint64_t exec, uint64_t graph);
int32_t pod_graph_destroy_impl(uint64_t graph);
int32_t pod_graph_exec_destroy_impl(uint64_t exec);

#endif
