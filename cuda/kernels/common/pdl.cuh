// Programmatic dependent launch (sm_90+). With PDL the shim may launch a kernel while the kernel
// before it in the stream is still draining; such a kernel must wait for that grid to finish (and
// its writes to become visible) before it reads or writes any global memory. Every kernel entry calls
// pod_pdl_enter() first. Elsewhere (older architectures, launches without PDL) both instructions are
// no-ops or absent.
#pragma once

// Waits until the grids this one depends on have completed and their memory is visible, then lets
// the next kernel in the stream begin launching: it waits in its own pod_pdl_enter(), so signalling
// early is always safe and only lets its CTAs take SM slots as this grid's last wave runs.
__device__ __forceinline__ void pod_pdl_enter() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;" :::);
#endif
}
