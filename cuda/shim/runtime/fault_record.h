/* The records the kernels of a wrapper report faults into (kernels/workspace_faults.h): page-locked
 * host memory mapped into the address space of every device, so a kernel stores a fault there
 * directly and the host reads it at its next call without a copy or a wait. Records come from chunks
 * that live as long as the process: a captured graph may still hold a record's address after its
 * wrapper is gone (a replay then reports into a record that is free or another wrapper's). */
#ifndef POD_FAULT_RECORD_H
#define POD_FAULT_RECORD_H

#include <stdint.h>

#include "kernels/workspace_faults.h"

typedef struct pod_fault_slot {
  volatile pod_fault_record* host; /* NULL: no page-locked memory could be had */
  uint64_t device;                 /* the record's device address */
} pod_fault_slot;

/* A zeroed record for a wrapper on CUDA `device` (its context current). Without page-locked mapped
 * memory the slot stays empty (both fields 0) and POD_OK is returned: the caller falls back. */
int32_t pod_fault_slot_acquire(int32_t device, pod_fault_slot* slot);
/* Gives the record back (zeroed) and empties the slot. */
void pod_fault_slot_release(pod_fault_slot* slot);

#endif
