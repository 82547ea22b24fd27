/* The header of a plan in the workspace: which wrapper's plan it is, its sizes and checksums of what
 * the kernels (or the CPU backend) read, so that a plan overwritten after plan() (two wrappers sharing
 * a workspace, a stray copy) is found instead of read. The plan's image starts with it. */
#ifndef POD_WORKSPACE_HEADER_H
#define POD_WORKSPACE_HEADER_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/workspace_faults.h"

#define POD_WORKSPACE_MAGIC 0x57444f50u /* "PODW" */
#define POD_WORKSPACE_VERSION 1u
/* The image's first bytes; the tables follow on a 256-byte boundary. */
#define POD_WORKSPACE_HEADER_BYTES 256

typedef struct pod_workspace_header {
  uint32_t magic;            /* POD_WORKSPACE_MAGIC */
  uint32_t version;          /* POD_WORKSPACE_VERSION */
  uint64_t owner;            /* the handle of the wrapper that planned */
  uint64_t serial;           /* that wrapper's plan count */
  uint64_t image_bytes;      /* the image: this header, the tables, work and merge lists, counters */
  uint64_t workspace_bytes;  /* what the plan claims: the image and the partial results */
  uint64_t image_checksum;   /* of image bytes [POD_WORKSPACE_HEADER_BYTES, image_bytes) */
  uint64_t buffers_checksum; /* CUDA graph mode: of the fixed buffers' entries the plan wrote; else 0 */
  uint64_t header_checksum;  /* of the fields above */
  /* Not checksummed: where the kernels report faults when the wrapper has no page-locked fault record. */
  pod_fault_record fault;
} pod_workspace_header;

_Static_assert(sizeof(pod_workspace_header) <= POD_WORKSPACE_HEADER_BYTES, "the header fits its bytes");

/* A 64-bit checksum of `bytes` bytes, continuing from `seed` (chains several arrays). Not
 * cryptographic: it finds overwritten bytes, not forgeries. */
uint64_t pod_checksum(const void* data, size_t bytes, uint64_t seed);

/* CUDA graph mode: adds one side's fixed-buffer entries to a running checksum of the buffers, in the
 * order plan() and the checks use: kv_indptr [batch + 1], kv_indices [pages], qo_indptr [batch + 1]
 * (NULL for the decode side). */
uint64_t pod_buffers_checksum_add(uint64_t h, const int32_t* kv_indptr, const int32_t* kv_indices, const int32_t* qo_indptr, int32_t batch,
                                  int64_t pages);

/* Sets the header's checksums: the image's (whose bytes after the header are staged) and the header's own. */
void pod_workspace_header_seal(pod_workspace_header* h, const unsigned char* image);

/* Whether the image read back from a workspace still holds the plan `expected` describes: POD_OK or
 * POD_ERR_WORKSPACE_CORRUPT with a message that says what differs. */
int32_t pod_workspace_header_verify(const pod_workspace_header* expected, const unsigned char* image);

#endif
