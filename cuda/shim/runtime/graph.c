/* Graphs: the work queued on a stream between begin and end of a capture, instantiated and replayed.
 * On CUDA devices these are CUDA graphs (stream capture, cuGraphInstantiateWithFlags, cuGraphLaunch,
 * cuGraphExecUpdate). On the CPU device a graph records the wrapper run() calls queued on the
 * capturing stream (validated when recorded, as a CUDA capture validates them) and a launch runs them
 * again in order, reading each wrapper's plan at that moment, as a CUDA replay reads the workspace. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim/runtime/cuda_driver.h"
#include "shim/runtime/device.h"
#include "shim/runtime/error.h"
#include "shim/runtime/graph.h"
#include "shim/runtime/handles.h"
#include "shim/runtime/stream.h"

/* A recorded run(): its arguments and copies of the options they point to (the caller's structs do
 * not outlive the call); replays point the arguments at the copies. */
typedef struct recorded_run {
  pod_run_args args;
  pod_attention_options options[2]; /* prefill, decode */
  int has_options[2];
} recorded_run;

struct pod_recording {
  size_t count, capacity;
  uint64_t* wrappers;
  recorded_run* runs;
};

/* The arguments of recorded run i, pointing at the recording's copies of its options. */
static pod_run_args recorded_args(const pod_recording* r, size_t i) {
  const recorded_run* run = &r->runs[i];
  pod_run_args a = run->args;
  a.options_p = run->has_options[0] ? &run->options[0] : NULL;
  a.options_d = run->has_options[1] ? &run->options[1] : NULL;
  return a;
}

typedef struct graph_obj {
  int32_t device;
  CUgraph graph;
  pod_recording* recording; /* CPU */
} graph_obj;

typedef struct exec_obj {
  int32_t device;
  CUgraphExec exec;
  size_t nodes;             /* CUDA: nodes of the graph it was instantiated from */
  pod_recording* recording; /* CPU */
} exec_obj;

void pod_recording_free(pod_recording* r) {
  if (r == NULL) return;
  free(r->wrappers);
  free(r->runs);
  free(r);
}

int32_t pod_recording_add_run(pod_recording* r, uint64_t wrapper, const pod_run_args* args) {
  if (r->count == r->capacity) {
    size_t cap = r->capacity ? 2 * r->capacity : 16;
    uint64_t* w = realloc(r->wrappers, cap * sizeof *w);
    if (w) r->wrappers = w;
    recorded_run* a = w ? realloc(r->runs, cap * sizeof *a) : NULL;
    if (!w || !a) return pod_fail(POD_ERR_OUT_OF_MEMORY, "out of host memory recording a graph");
    r->runs = a;
    r->capacity = cap;
  }
  r->wrappers[r->count] = wrapper;
  recorded_run* run = &r->runs[r->count];
  memset(run, 0, sizeof *run);
  run->args = *args;
  const pod_attention_options* given[2] = {args->options_p, args->options_d};
  for (int s = 0; s < 2; s++) {
    run->has_options[s] = given[s] != NULL;
    if (given[s]) run->options[s] = *given[s]; /* run() hands in its own full-size, validated copies */
  }
  run->args.options_p = NULL, run->args.options_d = NULL; /* recorded_args() points them at the copies */
  r->count++;
  return POD_OK;
}

static pod_recording* recording_copy(const pod_recording* r) {
  pod_recording* c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  for (size_t i = 0; i < r->count; i++) {
    const pod_run_args a = recorded_args(r, i);
    if (pod_recording_add_run(c, r->wrappers[i], &a) != POD_OK) {
      pod_recording_free(c);
      return NULL;
    }
  }
  return c;
}

/* The stream object behind a handle (not a copy: a CPU capture changes it). */
static int32_t capture_stream(int32_t device, uint64_t stream, pod_stream_obj** out) {
  int32_t st = pod_device_check(device, "device");
  if (st != POD_OK) return st;
  if (stream == 0)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "stream: the default stream cannot be captured; capture on a stream of the library (or a wrapped one)");
  void* obj;
  if ((st = pod_handle_get(POD_HANDLE_STREAM, stream, "stream", &obj))) return st;
  pod_stream_obj* s = obj;
  if (s->device != device)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "stream: belongs to device %d, the call is on device %d", s->device, device);
  *out = s;
  return POD_OK;
}

int32_t pod_graph_begin_capture_impl(int32_t device, uint64_t stream, int32_t mode) {
  if (mode < POD_CAPTURE_GLOBAL || mode > POD_CAPTURE_RELAXED)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "mode: expected 0 (global), 1 (thread-local) or 2 (relaxed), got %d", mode);
  pod_stream_obj* s;
  int32_t st = capture_stream(device, stream, &s);
  if (st != POD_OK) return st;
  if (device == POD_DEVICE_CPU) {
    if (s->recording) return pod_fail(POD_ERR_INVALID_ARGUMENT, "stream: is already capturing a graph");
    s->recording = calloc(1, sizeof *s->recording);
    return s->recording ? POD_OK : pod_fail(POD_ERR_OUT_OF_MEMORY, "out of host memory");
  }
  static const CUstreamCaptureMode modes[] = {CU_STREAM_CAPTURE_MODE_GLOBAL, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL, CU_STREAM_CAPTURE_MODE_RELAXED};
  return pod_cuda_check(pod_cu.StreamBeginCapture((CUstream)s->cu_stream, modes[mode]), "stream: cuStreamBeginCapture");
}

int32_t pod_graph_end_capture_impl(int32_t device, uint64_t stream, uint64_t* graph) {
  if (graph == NULL) return pod_fail(POD_ERR_INVALID_ARGUMENT, "graph: null pointer");
  *graph = 0;
  pod_stream_obj* s;
  int32_t st = capture_stream(device, stream, &s);
  if (st != POD_OK) return st;
  graph_obj* g = calloc(1, sizeof *g);
  if (g == NULL) return pod_fail(POD_ERR_OUT_OF_MEMORY, "out of host memory");
  g->device = device;
  if (device == POD_DEVICE_CPU) {
    if (s->recording == NULL) {
      free(g);
      return pod_fail(POD_ERR_INVALID_ARGUMENT, "stream: is not capturing a graph");
    }
    g->recording = s->recording;
    s->recording = NULL;
  } else {
    CUresult r = pod_cu.StreamEndCapture((CUstream)s->cu_stream, &g->graph);
    if (r == CUDA_ERROR_STREAM_CAPTURE_INVALIDATED) {
      free(g);
      return pod_fail(POD_ERR_CUDA,
                      "stream: the capture was invalidated by a call that cannot be captured while it ran (a synchronization, "
                      "work on the default stream, a copy to pageable host memory, or a failed call on the stream)");
    }
    if ((st = pod_cuda_check(r, "stream: cuStreamEndCapture"))) {
      free(g);
      return st;
    }
  }
  st = pod_handle_new(POD_HANDLE_GRAPH, g, graph);
  if (st != POD_OK) {
    if (g->graph) pod_cu.GraphDestroy(g->graph);
    pod_recording_free(g->recording);
    free(g);
  }
  return st;
}

int32_t pod_graph_instantiate_impl(uint64_t graph, uint64_t* exec) {
  if (exec == NULL) return pod_fail(POD_ERR_INVALID_ARGUMENT, "exec: null pointer");
  *exec = 0;
  void* obj;
  int32_t st = pod_handle_get(POD_HANDLE_GRAPH, graph, "graph", &obj);
  if (st != POD_OK) return st;
  graph_obj* g = obj;
  exec_obj* e = calloc(1, sizeof *e);
  if (e == NULL) return pod_fail(POD_ERR_OUT_OF_MEMORY, "out of host memory");
  e->device = g->device;
  if (g->device == POD_DEVICE_CPU) {
    e->recording = recording_copy(g->recording);
    if (e->recording == NULL) st = pod_fail(POD_ERR_OUT_OF_MEMORY, "out of host memory");
  } else if ((st = pod_cuda_use(g->device)) == POD_OK) {
    st = pod_cuda_check(pod_cu.GraphInstantiateWithFlags(&e->exec, g->graph, 0), "graph: cuGraphInstantiateWithFlags");
    if (st == POD_OK) st = pod_cuda_check(pod_cu.GraphGetNodes(g->graph, NULL, &e->nodes), "graph: cuGraphGetNodes");
  }
  if (st == POD_OK) st = pod_handle_new(POD_HANDLE_GRAPH_EXEC, e, exec);
  if (st != POD_OK) {
    if (e->exec) pod_cu.GraphExecDestroy(e->exec);
    pod_recording_free(e->recording);
    free(e);
  }
  return st;
}

/* Runs the recorded calls on a CPU stream (or records them into that stream's capture), through the
 * public pod_wrapper_run, as the caller made them: the runtime does not depend on the wrappers. */
static int32_t replay_cpu(const pod_recording* r, uint64_t stream, const pod_stream_obj* s) {
  for (size_t i = 0; i < r->count; i++) {
    pod_run_args a = recorded_args(r, i);
    a.stream = stream;
    int32_t st = s->recording ? pod_recording_add_run(s->recording, r->wrappers[i], &a) : pod_wrapper_run(r->wrappers[i], &a);
    if (st != POD_OK) {
      char why[768];
      snprintf(why, sizeof why, "%s", pod_last_error_impl());
      return pod_fail(st, "exec: recorded run() %zu of %zu failed on replay: %s", i + 1, r->count, why);
    }
  }
  return POD_OK;
}

int32_t pod_graph_launch_impl(uint64_t exec, uint64_t stream) {
  void* obj;
  int32_t st = pod_handle_get(POD_HANDLE_GRAPH_EXEC, exec, "exec", &obj);
  if (st != POD_OK) return st;
  exec_obj* e = obj;
  pod_stream_obj s;
  if ((st = pod_device_check(e->device, "exec")) || (st = pod_stream_resolve(e->device, stream, &s))) return st;
  if (e->device == POD_DEVICE_CPU) return replay_cpu(e->recording, stream, &s);
  return pod_cuda_check(pod_cu.GraphLaunch(e->exec, (CUstream)s.cu_stream), "cuGraphLaunch");
}

static const char* update_result_name(CUgraphExecUpdateResult r) {
  switch (r) {
    case CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED: return "the topology changed (other calls or another order)";
    case CU_GRAPH_EXEC_UPDATE_ERROR_NODE_TYPE_CHANGED: return "a node changed its type";
    case CU_GRAPH_EXEC_UPDATE_ERROR_FUNCTION_CHANGED: return "a kernel node launches another kernel";
    case CU_GRAPH_EXEC_UPDATE_ERROR_PARAMETERS_CHANGED: return "a node's parameters changed in a way an update cannot apply";
    case CU_GRAPH_EXEC_UPDATE_ERROR_NOT_SUPPORTED: return "a node cannot be updated";
    case CU_GRAPH_EXEC_UPDATE_ERROR_UNSUPPORTED_FUNCTION_CHANGE: return "a kernel changed in an unsupported way";
    case CU_GRAPH_EXEC_UPDATE_ERROR_ATTRIBUTES_CHANGED: return "a node's attributes changed";
    default: return "the driver refused the update";
  }
}

int32_t pod_graph_update_impl(uint64_t exec, uint64_t graph) {
  void *eo, *go;
  int32_t st = pod_handle_get(POD_HANDLE_GRAPH_EXEC, exec, "exec", &eo);
  if (st == POD_OK) st = pod_handle_get(POD_HANDLE_GRAPH, graph, "graph", &go);
  if (st != POD_OK) return st;
  exec_obj* e = eo;
  graph_obj* g = go;
  if (e->device != g->device)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "graph: was captured on device %d, the executable graph belongs to device %d", g->device, e->device);
  if (e->device == POD_DEVICE_CPU) {
    const pod_recording *from = g->recording, *to = e->recording;
    int same = from->count == to->count;
    for (size_t i = 0; same && i < from->count; i++) same = from->wrappers[i] == to->wrappers[i];
    if (!same)
      return pod_fail(POD_ERR_INVALID_ARGUMENT, "graph: cannot update the executable graph: the topology changed (other calls or another order)");
    memcpy(to->runs, from->runs, from->count * sizeof *from->runs);
    return POD_OK;
  }
  if ((st = pod_cuda_use(e->device))) return st;
  /* Another number of nodes is a topology change the driver would refuse; say so without asking it. */
  size_t nodes = 0;
  if ((st = pod_cuda_check(pod_cu.GraphGetNodes(g->graph, NULL, &nodes), "graph: cuGraphGetNodes"))) return st;
  if (nodes != e->nodes)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "graph: cannot update the executable graph (it is unchanged): the topology changed (%zu nodes, was %zu)",
                    nodes, e->nodes);
  CUgraphExecUpdateResultInfo info;
  memset(&info, 0, sizeof info);
  CUresult r = pod_cu.GraphExecUpdate(e->exec, g->graph, &info);
  if (r == CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE)
    return pod_fail(POD_ERR_INVALID_ARGUMENT, "graph: cannot update the executable graph (it is unchanged): %s", update_result_name(info.result));
  return pod_cuda_check(r, "cuGraphExecUpdate");
}

int32_t pod_graph_destroy_impl(uint64_t graph) {
  void* obj;
  int32_t st = pod_handle_release(POD_HANDLE_GRAPH, graph, "graph", &obj);
  if (st != POD_OK) return st;
  graph_obj* g = obj;
  if (g->graph && pod_cuda_use(g->device) == POD_OK) st = pod_cuda_check(pod_cu.GraphDestroy(g->graph), "cuGraphDestroy");
  pod_recording_free(g->recording);
  free(g);
  return st;
}

int32_t pod_graph_exec_destroy_impl(uint64_t exec) {
  void* obj;
  int32_t st = pod_handle_release(POD_HANDLE_GRAPH_EXEC, exec, "exec", &obj);
  if (st != POD_OK) return st;
  exec_obj* e = obj;
  if (e->exec && pod_cuda_use(e->device) == POD_OK) st = pod_cuda_check(pod_cu.GraphExecDestroy(e->exec), "cuGraphExecDestroy");
  pod_recording_free(e->recording);
  free(e);
  return st;
}
