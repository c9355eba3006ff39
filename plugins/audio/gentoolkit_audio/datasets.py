"""Waveform datasets: :class:`WaveformDataset` and a folder of audio files (class = subfolder).

Every dataset holds mono clips of one length at one sample rate, float32 in [-1, 1], with
integer labels and class names; items are ``(waveform (T,), label)``, label -1 without classes.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor

from gentoolkit import ItemSpec, UnknownNameError
from gentoolkit.errors import skip_bad_records

from gentoolkit_audio.audio_io import AUDIO_SUFFIXES, AudioError, fit_length, read_audio

SPLITS = ("train", "test", "all")


class WaveformDataset(torch.utils.data.Dataset):
    """Clips (N, T) in [-1, 1] at ``sample_rate``, integer labels, class names and per-clip facts
    (``meta``: voice, speed, frequency, ... whatever made the clip)."""

    def __init__(self, waveforms: Tensor, labels: Tensor | None, classes: Sequence[str], sample_rate: int,
                 name: str = "", meta: Sequence[dict[str, Any]] | None = None):
        self.waveforms = waveforms.float()
        self.labels = labels.long() if labels is not None else None
        self.classes = tuple(classes)
        self.sample_rate = int(sample_rate)
        self.name = name
        self.meta = list(meta) if meta is not None else [{} for _ in range(len(waveforms))]

    def __len__(self) -> int:
        return len(self.waveforms)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        label = self.labels[i] if self.labels is not None else torch.tensor(-1)
        return self.waveforms[i], label

    @property
    def length(self) -> int:
        """Samples per clip."""
        return self.waveforms.shape[1]

    @property
    def item_spec(self) -> ItemSpec:
        classes = self.classes if self.labels is not None else ()
        return ItemSpec("waveform", (self.length,), (-1.0, 1.0), sample_rate=self.sample_rate, classes=classes)

    def subset(self, index: Sequence[int] | np.ndarray | Tensor) -> WaveformDataset:
        index = torch.as_tensor(np.asarray(index), dtype=torch.long)
        labels = self.labels[index] if self.labels is not None else None
        return WaveformDataset(self.waveforms[index], labels, self.classes, self.sample_rate, self.name,
                               [self.meta[i] for i in index.tolist()])


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise UnknownNameError("split", split, SPLITS)
    return split


def load_audio_folder(path: str | os.PathLike, split: str = "all", sample_rate: int = 16000,
                      seconds: float = 1.0, test: float = 0.2, seed: int = 0, strict: bool = False) -> WaveformDataset:
    """WAV/FLAC/OGG files under ``path``, one subfolder per class (files directly in ``path``: no
    classes), each resampled to ``sample_rate`` mono and cut or padded to ``seconds``. The
    train/test split is a seeded ``test`` share of each class. An unreadable or empty file is
    skipped with a warning naming it, or refused when ``strict``."""
    root = Path(path)
    if not root.is_dir():
        raise AudioError(f"Audio folder {root} does not exist or is not a folder.")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise AudioError(f"No WAV, FLAC or OGG files in {root} (or its subfolders).")
    length = int(round(seconds * sample_rate))
    converted: list[str] = []
    clips, kept, bad = [], [], []
    for file in files:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                clips.append(fit_length(read_audio(file, sample_rate), length))
                kept.append(file)
            except AudioError as err:
                bad.append((f"file {file.relative_to(root)}", str(err)))
        converted += [str(w.message) for w in caught]
    skip_bad_records(str(root), bad, len(files), strict, "audio files", AudioError)
    files = kept
    class_of = [p.parent.relative_to(root).as_posix() for p in files]
    classes = sorted(set(class_of)) if all(c != "." for c in class_of) else []
    if converted:
        more = f" (and {len(converted) - 3} more)" if len(converted) > 3 else ""
        warnings.warn(" ".join(converted[:3]) + more, stacklevel=2)
    labels = torch.tensor([classes.index(c) for c in class_of]) if classes else None
    dataset = WaveformDataset(torch.stack(clips), labels, classes, sample_rate, root.name,
                              [{"file": str(f)} for f in files])
    return dataset.subset(split_indices(len(files), check_split(split), class_of, test, seed))


def split_indices(n: int, split: str, groups: Sequence[Any], test: float, seed: int) -> np.ndarray:
    """A seeded ``test`` share of each group (class, voice) for the test split, the rest for train."""
    if split == "all":
        return np.arange(n)
    rng = np.random.default_rng(seed)
    groups = np.asarray(groups)
    is_test = np.zeros(n, bool)
    for g in np.unique(groups):
        members = rng.permutation(np.flatnonzero(groups == g))
        is_test[members[:int(round(test * len(members)))]] = True
    return np.flatnonzero(is_test if split == "test" else ~is_test)


def load_dataset(name: str, split: str = "train", **params: Any) -> WaveformDataset:
    """A registered waveform dataset by name: spoken-digits, synthetic-sounds, audio-folder."""
    if name == "spoken-digits":
        from gentoolkit_audio.digits import load_spoken_digits

        return load_spoken_digits(split, **params)
    if name == "synthetic-sounds":
        from gentoolkit_audio.synth import load_synthetic

        return load_synthetic(split, **params)
    if name == "audio-folder":
        if not params.get("path"):
            raise AudioError("Dataset 'audio-folder' reads your files: set its path (data.path = FOLDER).")
        return load_audio_folder(split=split, **params)
    raise UnknownNameError("audio dataset", name, ("spoken-digits", "synthetic-sounds", "audio-folder"))
