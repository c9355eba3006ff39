"""The shipped spoken-digit classifier and the scores built on it (IS, Fréchet distance)."""

from __future__ import annotations

import pytest
import torch

from gentoolkit_audio.classifier import FEATURES, frechet_distance, inception_score, load_classifier, predict


def test_inception_score_and_frechet_distance_on_known_inputs():
    assert inception_score(torch.eye(10).repeat(3, 1)) == pytest.approx(10.0, rel=1e-6)  # sure and balanced
    assert inception_score(torch.full((30, 10), 0.1)) == pytest.approx(1.0)  # no idea
    assert inception_score(torch.eye(10)[[3] * 30]) == pytest.approx(1.0)  # one digit only
    a = torch.randn(500, 4, generator=torch.Generator().manual_seed(0))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a, a + torch.tensor([3.0, 0, 0, 0])) == pytest.approx(9.0, rel=1e-6)


def test_shipped_classifier_recognises_spoken_digits(digits_cache, tiny_digits, audio_kit):
    from gentoolkit_audio.digits import load_spoken_digits
    from gentoolkit_audio.task import digit_metrics

    model, card = load_classifier()
    assert card["test_accuracy"] >= 0.9 and "never trained on" in card["test_split"]
    data = load_spoken_digits("all", **tiny_digits)
    features, probs = predict(model, data.waveforms)
    assert features.shape == (30, 64)
    assert (probs.argmax(1) == data.labels).double().mean() >= 0.8
    train, test = load_spoken_digits("train", **tiny_digits), load_spoken_digits("test", **tiny_digits)
    noise = 0.3 * torch.randn(10, 16000, generator=torch.Generator().manual_seed(0))
    real = digit_metrics(test.waveforms, test.labels, train, test)
    fake = digit_metrics(noise, torch.arange(10), train, test)
    assert real[f"inception_score_{FEATURES}"] > 5 > fake[f"inception_score_{FEATURES}"]
    assert real[f"frechet_distance_{FEATURES}_features"] < fake[f"frechet_distance_{FEATURES}_features"]
    assert real[f"label_accuracy_{FEATURES}"] >= 0.8 and fake[f"label_accuracy_{FEATURES}"] <= 0.3
    scores = audio_kit.evaluate("audio-digit-classifier-scores", test.waveforms, labels=test.labels)
    assert scores[f"label_accuracy_{FEATURES}"] == real[f"label_accuracy_{FEATURES}"]
