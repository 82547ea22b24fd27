"""GPU time and latency of a torch call, timed as bench/gpu-time.ts times ours: GPU time with a busy GPU
ahead of each call (a 256 MiB device copy hides the host's launch cost), latency from an idle GPU (host
time until the device is done). Shared by the peer scripts; a benchmark tool only."""
import statistics
import time

import torch

_busy_src = None
_busy_dst = None


def gpu_ms(fn, runs=30, warmup=5):
    """Median GPU time in ms of fn over `runs` calls after `warmup`, each behind a busy GPU."""
    global _busy_src, _busy_dst
    if _busy_src is None:
        _busy_src = torch.empty(256 << 20, dtype=torch.uint8, device="cuda")
        _busy_dst = torch.empty_like(_busy_src)
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(runs):
        _busy_dst.copy_(_busy_src)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def latency_ms(fn, runs=20):
    """Median latency in ms from an idle GPU: host time from the call until the device has finished."""
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)
