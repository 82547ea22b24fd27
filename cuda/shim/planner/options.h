/* Attention options: defaults, validation, and the rule that run() may repeat but not change what
 * plan() set. */
#ifndef POD_OPTIONS_H
#define POD_OPTIONS_H

#include "shim/attention_problem.h"

/* Validates `given` and fills `out` with every default resolved. */
int32_t pod_resolve_options(const pod_attention_options* given, int32_t head_dim, const char* name, pod_resolved_options* out);
/* Each field of `given` must be unset or equal to `planned`; `name` prefixes the messages. */
int32_t pod_check_options_match(const pod_attention_options* given, const pod_resolved_options* planned, const char* name,
                                const char* where);
/* The caller's options struct (versioned by its struct_size; NULL: every field unset) into `dst`. */
int32_t pod_options_copy(pod_attention_options* dst, const pod_attention_options* src, const char* name);
/* Whether any field of `given` is set. */
int pod_options_any_set(const pod_attention_options* given);

/* The entry points of pod.h implemented here (abi.c exports them). */
void pod_attention_options_init_impl(pod_attention_options* options);

#endif
