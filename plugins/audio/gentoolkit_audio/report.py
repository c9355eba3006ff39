"""What a run writes for a person to listen to: 16-bit WAVs, spectrograms, a learning curve and
``index.html`` with an audio player and a spectrogram beside each sample."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor

from gentoolkit_audio.audio_io import write_wav


def log_spectrogram(waveform: Tensor, sample_rate: int, n_fft: int = 512) -> np.ndarray:
    """Power spectrogram in dB (freq, frames) of one clip, floored 80 dB below its peak."""
    import torchaudio.transforms as AT

    power = AT.Spectrogram(n_fft=n_fft, hop_length=n_fft // 4, power=2.0)(waveform.float().cpu())
    db = 10 * torch.log10(power.clamp_min(1e-10))
    return db.clamp_min(db.max() - 80).numpy()


def _draw(ax: Any, waveform: Tensor, sample_rate: int, title: str) -> None:
    spec = log_spectrogram(waveform, sample_rate)
    seconds = waveform.shape[-1] / sample_rate
    ax.imshow(spec, origin="lower", aspect="auto", cmap="magma", extent=(0, seconds, 0, sample_rate / 2000))
    ax.set_title(title, fontsize=8)
    ax.tick_params(labelsize=6)


def save_spectrogram_grid(waveforms: Tensor, sample_rate: int, path: Path, titles: Sequence[str],
                          ncols: int = 5) -> Path:
    """A grid of spectrograms (time in s, frequency in kHz), one per clip."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(waveforms)
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.2 * ncols, 1.8 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < n:
            _draw(ax, waveforms[i], sample_rate, titles[i])
        else:
            ax.axis("off")
    fig.supxlabel("time (s)", fontsize=8)
    fig.supylabel("frequency (kHz)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def save_learning_curve(history: list[dict[str, Any]], path: Path, title: str, key: str = "bits_per_sample") -> Path:
    """Training loss per epoch (bits per sample for a likelihood model), with the 8-bit uniform line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    epochs = [r["epoch"] for r in history]
    if history and key not in history[0]:  # no likelihood: the loss, or a GAN's first logged loss
        key = "loss" if "loss" in history[0] else next(k for k in history[0] if k not in ("epoch", "seconds"))
    ax.plot(epochs, [r.get(key, np.nan) for r in history], marker="o", ms=3, label=f"train {key.replace('_', ' ')}")
    if key == "bits_per_sample":
        ax.axhline(8.0, color="grey", ls="--", lw=1, label="uniform 8-bit (8.0)")
    ax.set_xlabel("epoch")
    ax.set_ylabel(key.replace("_", " "))
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_samples(folder: Path, waveforms: Tensor, sample_rate: int, names: Sequence[str]) -> list[tuple[Path, Path]]:
    """``NAME.wav`` (16-bit PCM) and ``NAME.png`` (its spectrogram) for each clip, in ``folder``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for waveform, name in zip(waveforms, names):
        wav = write_wav(folder / f"{name}.wav", waveform, sample_rate)
        fig, ax = plt.subplots(figsize=(3.2, 1.8))
        _draw(ax, waveform, sample_rate, name)
        fig.tight_layout()
        fig.savefig(folder / f"{name}.png", dpi=80)
        plt.close(fig)
        files.append((wav, folder / f"{name}.png"))
    return files


def write_index(path: Path, title: str, samples: list[tuple[str, Path, Path]], metrics: dict[str, Any],
                extra_images: Sequence[Path] = (), real: list[tuple[str, Path, Path]] = ()) -> Path:
    """``index.html``: a table of (label, <audio> player, spectrogram) per sample, then real clips
    for comparison, the metrics and the run's plots. Paths are relative to the page."""
    root = path.parent

    def rows(items: list[tuple[str, Path, Path]]) -> str:
        return "\n".join(
            f'<tr><td>{html.escape(label)}</td><td><audio controls preload="none" '
            f'src="{html.escape(wav.relative_to(root).as_posix())}"></audio></td>'
            f'<td><img src="{html.escape(png.relative_to(root).as_posix())}" height="110"></td></tr>'
            for label, wav, png in items)

    numbers = "\n".join(f"<tr><td>{html.escape(str(k))}</td><td>{v:.4g}</td></tr>" if isinstance(v, float)
                        else f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
                        for k, v in metrics.items() if not isinstance(v, dict))
    images = "\n".join(f'<img src="{html.escape(p.relative_to(root).as_posix())}">' for p in extra_images)
    real_part = f"<h2>Real clips (test split)</h2><table>{rows(list(real))}</table>" if real else ""
    path.write_text(f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}} td{{padding:2px 10px}} img{{max-width:100%}}</style></head>
<body><h1>{html.escape(title)}</h1>
<h2>Samples</h2><table>{rows(samples)}</table>
{real_part}
<h2>Metrics</h2><table>{numbers}</table>
{images}
</body></html>
""")
    return path
