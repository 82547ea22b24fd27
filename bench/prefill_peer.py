"""Peer timings for bench/prefill.ts: torch SDPA with its cuDNN and flash backends on the shapes of
bench/prefill-shapes.json (32 query / 8 KV heads, fp16 and bf16), timed the same way: GPU time with
a busy GPU ahead of each call (medians of 30) and latency from an idle GPU (medians of 20).
Shapes SDPA cannot express (sliding window, logits soft cap) get null. A benchmark tool only: the
library never depends on torch.

Usage: python3 bench/prefill_peer.py OUT.json
"""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from torch_timing import gpu_ms, latency_ms
from torch.nn.attention.bias import causal_lower_right

H, KH = 32, 8
BACKENDS = {"cudnn": SDPBackend.CUDNN_ATTENTION, "flash": SDPBackend.FLASH_ATTENTION}


def main():
    out_path = sys.argv[1]
    shapes = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "prefill-shapes.json")))
    shapes.append({"name": "ragged-paged-4", "qo": 0, "kv": 0, "headDim": 128, "causal": True, "options": {"unsupported": 1}})
    rows = {}
    for dtype_name, dtype in (("float16", torch.float16), ("bfloat16", torch.bfloat16)):
        for s in shapes:
            name = f"{s['name']}-d{s['headDim']}-{dtype_name}"
            row = {}
            if s["options"]:
                rows[name] = {k + "Ms": None for k in BACKENDS} | {k + "LatencyMs": None for k in BACKENDS}
                continue
            q = torch.randn(1, H, s["qo"], s["headDim"], dtype=dtype, device="cuda")
            k = torch.randn(1, KH, s["kv"], s["headDim"], dtype=dtype, device="cuda")
            v = torch.randn(1, KH, s["kv"], s["headDim"], dtype=dtype, device="cuda")
            # GQA by repeating the KV heads (not timed): both backends take that form.
            k, v = k.repeat_interleave(H // KH, dim=1), v.repeat_interleave(H // KH, dim=1)
            mask = causal_lower_right(s["qo"], s["kv"]) if s["causal"] and s["qo"] != s["kv"] else None
            causal = s["causal"] and mask is None
            for key, backend in BACKENDS.items():
                def call():
                    with sdpa_kernel(backend):
                        F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
                try:
                    row[key + "Ms"], row[key + "LatencyMs"] = gpu_ms(call), latency_ms(call)
                except Exception as e:  # the backend refuses the shape
                    print(f"{name} {key}: {str(e).splitlines()[0]}", file=sys.stderr)
                    row[key + "Ms"], row[key + "LatencyMs"] = None, None
            print(name, row, file=sys.stderr, flush=True)
            rows[name] = row
            del q, k, v
    json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "cudnn": torch.backends.cudnn.version(),
               "date": time.strftime("%Y-%m-%d"), "rows": rows}, open(out_path, "w"), indent=2)


if __name__ == "__main__":
    main()
