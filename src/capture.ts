/**
 * Bookkeeping of the graph captures this module has open. While a capture runs, freeing CUDA memory
 * on the default stream would invalidate it (the default stream orders itself with the capturing
 * stream), so frees of CUDA memory (destroy() and garbage collection) wait until the last capture
 * ends.
 */
let open = 0;
const deferred: (() => void)[] = [];

export function captureBegan(): void {
  open++;
}

export function captureEnded(): void {
  open--;
  if (open > 0) return;
  while (deferred.length > 0) {
    try {
      deferred.shift()!();
    } catch {
      // A failed free of memory nobody holds any more has no caller to tell.
    }
  }
}

/** Runs `free` now, or once no capture is open. */
export function freeWhenNotCapturing(free: () => void): void {
  if (open > 0) deferred.push(free);
  else free();
}

export function capturesOpen(): number {
  return open;
}
