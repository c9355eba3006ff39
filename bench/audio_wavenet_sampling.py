"""WaveNet sampling speed: Fast WaveNet queues against a full recompute of the receptive field
per sample, for the audio task's default WaveNet (and a deeper one), checking both draw the
same clips from the same seed.

    python bench/audio_wavenet_sampling.py [steps]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from report import write_section  # noqa: E402

from gentoolkit_audio.models import create_model  # noqa: E402

CONFIGS = {"24 channels, 9 layers (bench/audio_models.py)": {"channels": 24, "skip_channels": 48, "layers": 9},
           "2 stacks of 10 layers": {"channels": 32, "skip_channels": 64, "layers": 10, "stacks": 2}}


def timed(model: torch.nn.Module, n: int, steps: int, cached: bool) -> tuple[torch.Tensor, float]:
    began = time.perf_counter()
    clips = model.sample(n, condition=torch.arange(n) % 10, generator=torch.Generator().manual_seed(0),
                         length=steps, cached=cached)
    return clips, time.perf_counter() - began


def main(steps: int = 500, n: int = 10) -> None:
    torch.set_num_threads(1)
    rows = []
    for name, params in CONFIGS.items():
        torch.manual_seed(0)
        model = create_model("wavenet", 16000, 16000, [str(d) for d in range(10)], **params).eval()
        fast, fast_s = timed(model, n, steps, cached=True)
        slow, slow_s = timed(model, n, steps, cached=False)
        same = torch.equal(fast, slow)
        rows.append(f"| {name} | {model.receptive_field} | {n * steps / fast_s:,.0f} | {n * steps / slow_s:,.0f} | "
                    f"{slow_s / fast_s:.1f}x | {'yes' if same else 'NO'} |")
        print(rows[-1], flush=True)
    body = [f"{n} class-conditional clips drawn together, {steps} samples each (untrained weights: speed does not",
            "depend on them). Samples per second counts every generated audio sample of the batch; a",
            "one-second 16 kHz clip is 16,000 of them. Cached = Fast WaveNet queues (one step per layer per",
            "sample); naive = the network run over the last receptive field for every sample.", "",
            "| model | receptive field | cached samples/s | naive samples/s | speed-up | same clips |",
            "|---|---|---|---|---|---|", *rows]
    write_section("audio_wavenet_sampling", f"python bench/audio_wavenet_sampling.py {steps}", "\n".join(body))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
