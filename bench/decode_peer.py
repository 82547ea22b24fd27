"""Peer timings for bench/kernels.ts: torch SDPA decode (one query token per request) on a contiguous
cache, 32 query / 8 KV heads (GQA through enable_gqa), head_dim 128, fp16 and bf16, on the decode shapes
of bench/kernels.ts, timed the same way: GPU time with a busy GPU ahead of each call (medians of 30) and
latency from an idle GPU (medians of 20). Each backend that takes the shape is timed; the fastest is
reported. A benchmark tool only: the library never depends on torch.

Usage: python3 bench/decode_peer.py OUT.json
"""
import json
import sys
import time

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from torch_timing import gpu_ms, latency_ms

H, KH, D = 32, 8, 128
SHAPES = [(16, 2048), (64, 4096), (128, 4096), (128, 8192), (256, 2048)]
BACKENDS = {"flash": SDPBackend.FLASH_ATTENTION, "efficient": SDPBackend.EFFICIENT_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION}


def main():
    rows = {}
    for dtype_name, dtype in (("float16", torch.float16), ("bfloat16", torch.bfloat16)):
        for batch, kv in SHAPES:
            name = f"{dtype_name}:{batch}@{kv}"
            q = torch.randn(batch, H, 1, D, dtype=dtype, device="cuda")
            k = torch.randn(batch, KH, kv, D, dtype=dtype, device="cuda")
            v = torch.randn(batch, KH, kv, D, dtype=dtype, device="cuda")
            best = {"sdpaMs": None, "sdpaLatencyMs": None, "backend": None}
            for key, backend in BACKENDS.items():
                def call():
                    with sdpa_kernel(backend):
                        F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
                try:
                    ms = gpu_ms(call)
                except Exception as e:  # the backend refuses the shape
                    print(f"{name} {key}: {str(e).splitlines()[0]}", file=sys.stderr)
                    continue
                if best["sdpaMs"] is None or ms < best["sdpaMs"]:
                    best = {"sdpaMs": ms, "sdpaLatencyMs": latency_ms(call), "backend": key}
            print(name, best, file=sys.stderr, flush=True)
            rows[name] = best
            del q, k, v
    json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "date": time.strftime("%Y-%m-%d"), "rows": rows},
              open(sys.argv[1], "w"), indent=2)


if __name__ == "__main__":
    main()
