"""The spoken-digit classifier behind the WaveGAN paper's protocol: Inception score and a
Fréchet distance on its features.

A small CNN on log-mel spectrograms, trained offline on the spoken-digits train voices and
shipped in ``gentoolkit_audio/data`` (its card holds the accuracy on the unseen test voices;
``scripts/train_digit_classifier.py`` rebuilds it). Its 64-d penultimate layer gives the
features; the Fréchet distance on them is not FAD (which needs VGGish) and is named for them.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from gentoolkit import GentoolkitError

NAME = "digit_classifier"
FEATURES = "digitcnn"  # the name every score carries
SAMPLE_RATE, LENGTH = 16000, 16000


class DigitClassifier(nn.Module):
    """log-mel (40 x 101) -> conv-conv-pool-conv-pool-conv -> 64-d features -> 10 logits."""

    def __init__(self, num_classes: int = 10, width: int = 24, n_mels: int = 40):
        super().__init__()
        import torchaudio.transforms as AT

        self.mel = AT.MelSpectrogram(SAMPLE_RATE, n_fft=512, hop_length=160, n_mels=n_mels)
        block = [nn.Conv2d(1, width, 3, 1, 1), nn.BatchNorm2d(width), nn.ReLU(),
                 nn.Conv2d(width, width, 3, 1, 1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
                 nn.Conv2d(width, 2 * width, 3, 1, 1), nn.BatchNorm2d(2 * width), nn.ReLU(), nn.MaxPool2d(2),
                 nn.Conv2d(2 * width, 2 * width, 3, 1, 1), nn.BatchNorm2d(2 * width), nn.ReLU(),
                 nn.AdaptiveAvgPool2d((2, 4)), nn.Flatten(), nn.Dropout(0.3), nn.Linear(2 * width * 8, 64), nn.ReLU()]
        self.body = nn.Sequential(*block)
        self.head = nn.Linear(64, num_classes)

    def forward(self, waveforms: Tensor) -> tuple[Tensor, Tensor]:
        """(features (B, 64), logits (B, 10)) of clips (B, 16000) at 16 kHz."""
        if waveforms.dim() != 2 or waveforms.shape[1] != LENGTH:
            raise GentoolkitError(f"The digit classifier scores one-second 16 kHz clips (B, {LENGTH}); "
                                  f"got shape {tuple(waveforms.shape)}.")
        spec = torch.log(self.mel(waveforms.float()) + 1e-6)[:, None]
        features = self.body(spec)
        return features, self.head(features)


def train_classifier(waveforms: Tensor, labels: Tensor, epochs: int = 30, seed: int = 0,
                     log: Callable[[str], None] = lambda s: None) -> DigitClassifier:
    """Train on clips with random shifts (up to 0.15 s) and gains (x0.3..1), so the classifier
    does not key on where or how loud a word is."""
    torch.manual_seed(seed)
    model = DigitClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(waveforms))
        for i in range(0, len(order), 32):
            index = order[i:i + 32]
            x = torch.roll(waveforms[index], int(torch.randint(-2400, 2401, ())), dims=1)
            x = x * torch.empty(len(index), 1).uniform_(0.3, 1.0)
            loss = F.cross_entropy(model(x)[1], labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        log(f"epoch {epoch + 1}: loss {loss.item():.3f}")
    return model.eval()


@torch.no_grad()
def predict(model: DigitClassifier, waveforms: Tensor, batch_size: int = 64) -> tuple[Tensor, Tensor]:
    """(features (B, 64), class probabilities (B, 10))."""
    model.eval()
    out = [model(torch.as_tensor(waveforms[i:i + batch_size]).float().cpu()) for i in range(0, len(waveforms), batch_size)]
    return torch.cat([f for f, _ in out]), torch.cat([torch.softmax(l, 1) for _, l in out])


def save_classifier(model: DigitClassifier, card: dict[str, Any], folder: Path) -> None:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / f"{NAME}.safetensors"))
    (folder / f"{NAME}.json").write_text(json.dumps(card, indent=1) + "\n")


def load_classifier() -> tuple[DigitClassifier, dict[str, Any]]:
    """The shipped classifier and its card (accuracy on unseen voices, data it was trained on)."""
    from safetensors.torch import load_file

    folder = resources.files("gentoolkit_audio") / "data"
    with resources.as_file(folder / f"{NAME}.safetensors") as weights:
        state = load_file(str(weights))
    model = DigitClassifier()
    model.load_state_dict(state)
    return model.eval(), json.loads((folder / f"{NAME}.json").read_text())


def inception_score(probs: Tensor) -> float:
    """exp(E_x KL(p(y|x) || p(y))): 10 for confident, balanced digits, 1 for one class or noise."""
    probs = probs.double().clamp_min(1e-12)
    marginal = probs.mean(0, keepdim=True)
    return float(torch.exp((probs * (probs.log() - marginal.log())).sum(1).mean()))


def frechet_distance(a: Tensor, b: Tensor) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^1/2) between Gaussians fitted to two feature
    sets. The trace of the root is taken from the eigenvalues of S_a^1/2 S_b S_a^1/2 (symmetric, so
    stable when few samples leave a covariance singular)."""
    a, b = a.double().numpy(), b.double().numpy()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    w, v = np.linalg.eigh(cov_a)
    root_a = (v * np.sqrt(w.clip(min=0))) @ v.T
    trace_root = np.sqrt(np.linalg.eigvalsh(root_a @ cov_b @ root_a).clip(min=0)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root)


def digit_scores(samples: Tensor, reference: Tensor | None = None, labels: Tensor | None = None,
                 model: DigitClassifier | None = None) -> dict[str, float]:
    """Inception score of ``samples``; with ``reference`` clips the Fréchet distance between their
    classifier features; with the ``labels`` the samples were drawn for, the share classified so."""
    model = model or load_classifier()[0]
    features, probs = predict(model, samples)
    scores = {f"inception_score_{FEATURES}": inception_score(probs)}
    if reference is not None:
        scores[f"frechet_distance_{FEATURES}_features"] = frechet_distance(features, predict(model, reference)[0])
    if labels is not None:
        scores[f"label_accuracy_{FEATURES}"] = float((probs.argmax(1) == torch.as_tensor(labels)).double().mean())
    return scores
