"""Train the spoken-digit classifier that ships as the audio plugin's IS / Fréchet-distance network.

Trains on the spoken-digits train voices (default dataset settings, seed 0), reports accuracy on
the test split's unseen voices, and writes ``gentoolkit_audio/data/digit_classifier.{safetensors,json}``.
Run: ``python plugins/audio/scripts/train_digit_classifier.py``.
"""

from pathlib import Path

import torch

from gentoolkit_audio.classifier import FEATURES, inception_score, predict, save_classifier, train_classifier
from gentoolkit_audio.digits import load_spoken_digits

if __name__ == "__main__":
    torch.set_num_threads(1)
    train, test = load_spoken_digits("train"), load_spoken_digits("test")
    epochs = 15
    model = train_classifier(train.waveforms, train.labels, epochs=epochs, log=print)

    def accuracy(data):
        return round(float((predict(model, data.waveforms)[1].argmax(1) == data.labels).double().mean()), 4)

    card = {"data": "spoken-digits (eSpeak NG), default settings: 16 voices x 10 digits x 4 renditions, seed 0",
            "train_split": f"{len(train)} clips of {len({m['voice'] for m in train.meta})} voices",
            "test_split": f"{len(test)} clips of {len({m['voice'] for m in test.meta})} voices never trained on: "
                          + ", ".join(sorted({m["voice"] for m in test.meta})),
            "epochs": epochs, "train_accuracy": accuracy(train), "test_accuracy": accuracy(test),
            "test_inception_score": round(inception_score(predict(model, test.waveforms)[1]), 3),
            "features": f"{FEATURES}: 64-d penultimate layer (after ReLU) of a CNN on 40-band log-mel spectrograms"}
    save_classifier(model, card, Path(__file__).resolve().parents[1] / "gentoolkit_audio" / "data")
    print(card)
