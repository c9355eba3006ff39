"""Every audio model on the spoken digits, each trained by ``gentoolkit run audio`` on a CPU, scored
the WaveGAN way with the shipped digit classifier, beside real clips scored the same way.

Per model: Inception score and the share of samples recognised as the digit they were drawn for
(50 samples, 5 per digit), the Fréchet distance on the digit CNN's 64-d features against the 160
test clips (not FAD), bits per sample where the model has an exact likelihood, CPU time of the
whole run, and generation speed. Results are cached by code hash (bench/report.py).

    python bench/audio_models.py [ONLY]   # ONLY: run just the models whose name starts with it (fills the cache)
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from report import ResultCache, code_digest, provenance, write_section  # noqa: E402

from gentoolkit import RuntimeOptions, Toolkit  # noqa: E402

N_SAMPLES = 50
# name: task overrides (model, params, training); the mel-VAE row is `gentoolkit run audio` as shipped
MODELS = {
    "mel-VAE + Griffin-Lim (task default)": {"model": "audio-mel-vae"},
    "WaveNet (24 ch, 9 layers, 32 ms field)": {
        "model": "audio-wavenet", "params": {"channels": 24, "skip_channels": 48, "layers": 9, "crop": 1000},
        "train": {"epochs": 15, "batch_size": 8}},
    "WaveGAN (d = 16, phase shuffle 2)": {"model": "audio-wavegan", "train": {"epochs": 9, "batch_size": 16}},
}


def run_model(kit: Toolkit, overrides: dict, out: Path) -> dict:
    """One task run; its metrics plus the CPU seconds the whole run took."""
    began, cpu = time.perf_counter(), time.process_time()
    result = kit.run("audio", overrides={**overrides, "sample": {"n": N_SAMPLES}},
                     options=RuntimeOptions(device="cpu", out=out, progress=False, seed=0))
    metrics = result.outputs["metrics"]
    return {**{k: v for k, v in metrics.items() if k != "model"}, "epochs": len(result.outputs["history"]),
            "run_cpu_seconds": time.process_time() - cpu, "run_wall_seconds": time.perf_counter() - began}


def real_reference() -> dict:
    """The classifier's scores of 50 train clips (5 per digit) against the test clips: the real-data
    row at the samples' count, since a Fréchet distance depends on it."""
    from gentoolkit_audio.classifier import digit_scores
    from gentoolkit_audio.digits import load_spoken_digits

    train, test = load_spoken_digits("train"), load_spoken_digits("test")
    index = torch.cat([(train.labels == d).nonzero()[:N_SAMPLES // 10, 0] for d in range(10)])
    return digit_scores(train.waveforms[index], test.waveforms, train.labels[index])


def fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def main(only: str = "") -> None:
    torch.set_num_threads(1)
    kit = Toolkit()
    folder = Path.home() / ".cache" / "gentoolkit" / "bench-audio-models"
    cache = ResultCache(folder, code_digest("gentoolkit", "gentoolkit_audio"))  # a run's config is in its key
    entries, rows = [], []
    for name, overrides in MODELS.items():
        if not name.startswith(only):
            continue
        key = hashlib.sha256(json.dumps([overrides, N_SAMPLES], sort_keys=True).encode()).hexdigest()[:16]
        entry = cache.get(key)
        if entry is None:
            with tempfile.TemporaryDirectory() as out:
                entry = cache.put(key, run_model(kit, overrides, Path(out)))
        entries.append(entry)
        m = entry["result"]
        rows.append(f"| {name} | {m['epochs']} | {fmt(m['run_cpu_seconds'], 0)} | {fmt(m.get('training_seconds'), 0)} | "
                    f"{fmt(m.get('inception_score_digitcnn'))} | {fmt(m.get('label_accuracy_digitcnn'))} | "
                    f"{fmt(m.get('frechet_distance_digitcnn_features'), 0)} | "
                    f"{fmt(m.get('test_bits_per_sample_given_class'))} | {fmt(m['generated_samples_per_second'], 0)} |")
        print(rows[-1], flush=True)
    if only:
        return
    real = real_reference()
    first = entries[0]["result"]
    rows.append(f"| real clips: 50 train clips (5 per digit) | – | – | – | {fmt(real['inception_score_digitcnn'])} | "
                f"{fmt(real['label_accuracy_digitcnn'])} | {fmt(real['frechet_distance_digitcnn_features'], 0)} | "
                f"– (mu-law marginal {fmt(first['marginal_bits_per_sample'])}, uniform 8.00) | – |")
    rows.append(f"| real clips: all 160 test clips (4 unseen voices) | – | – | – | "
                f"{fmt(first['real_inception_score_digitcnn'])} | {fmt(first['real_label_accuracy_digitcnn'])} | "
                f"{fmt(first['real_frechet_distance_digitcnn_features'], 0)} (train vs test) | – | – |")
    body = [f"Each model trained by `gentoolkit run audio --set model=...` on the spoken digits (480 train clips, "
            f"12 eSpeak voices), one torch thread, seed 0; {N_SAMPLES} one-second samples (5 per digit) scored by the "
            "shipped digit CNN (92 % on unseen voices): Inception score (10 = confident and balanced), label "
            "accuracy (the digit asked for is the digit heard), Fréchet distance on the CNN's 64-d features against "
            "the 160 test clips (a digit-CNN Fréchet distance, not FAD: no VGGish weights offline). Run CPU = "
            "process time of the whole run (train, sample, score, write); train wall and samples/s are wall clock "
            "on a machine shared with other jobs, so compare CPU seconds. The WaveGAN paper's real-data Inception "
            "score on SC09 is 9.18 ± 0.04 (its README); its classifier and data differ from ours.",
            "", f"Rows: {provenance(entries)}.", "",
            "| model | epochs | run CPU s | train wall s | IS (digit CNN) | label accuracy | Fréchet (digit-CNN features) "
            "| test bits/sample | generated samples/s |",
            "|---|---|---|---|---|---|---|---|---|", *rows]
    write_section("audio_models", "python bench/audio_models.py", "\n".join(body))


if __name__ == "__main__":
    main(*sys.argv[1:2])
