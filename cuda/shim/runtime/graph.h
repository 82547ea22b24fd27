/* CPU graphs: the wrapper run() calls recorded on a capturing CPU stream. */
#ifndef POD_GRAPH_H
#define POD_GRAPH_H

#include "pod.h"
#include "shim/runtime/stream.h"

/* Appends a validated run() call to a CPU stream's capture. */
int32_t pod_recording_add_run(pod_recording* r, uint64_t wrapper, const pod_run_args* args);
/* Frees a recording (NULL: nothing). */
void pod_recording_free(pod_recording* r);

#endif
