/* Checks of memory handed in from outside (a tensor made from a raw address). */
#ifndef POD_POINTER_CHECK_H
#define POD_POINTER_CHECK_H

#include <stdint.h>

/* The entry point of pod.h implemented here (abi.c exports it). */
int32_t pod_pointer_check_impl(int32_t device, uint64_t ptr, uint64_t bytes);

#endif
