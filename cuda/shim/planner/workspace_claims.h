/* Which wrapper's plan currently lives in a range of workspace memory. Wrappers that share a
 * workspace overwrite each other's plans; run() checks its claim so a stale plan is an error, never
 * a read of another plan's page tables. */
#ifndef POD_WORKSPACE_CLAIMS_H
#define POD_WORKSPACE_CLAIMS_H

#include <stdint.h>

/* Records that `owner` planned into [start, start + bytes) on `device`, dropping overlapping claims. */
int32_t pod_workspace_claim(int32_t device, uint64_t start, uint64_t bytes, uint64_t owner);
/* Whether `owner` still holds its claim on [start, start + bytes). */
int pod_workspace_holds(int32_t device, uint64_t start, uint64_t bytes, uint64_t owner);
/* Drops every claim of `owner` (wrapper destroyed). */
void pod_workspace_release(uint64_t owner);

#endif
