"""Train the digits classifier that ships as the default FID/KID/IS feature network.

Trains on the digits train split (80 %), reports accuracy on the held-out test split (20 %),
and writes ``gentoolkit_image/data/digits_classifier.{safetensors,json}``.
Run: ``python plugins/image/scripts/train_digits_classifier.py``.
"""

from pathlib import Path

import torch

from gentoolkit_image.data import load_digits
from gentoolkit_image.metrics.features import DIGITS_CLASSIFIER, accuracy, save_classifier, train_classifier

if __name__ == "__main__":
    torch.set_num_threads(1)
    train, test = load_digits("train"), load_digits("test")
    epochs = 40
    model = train_classifier(train.images, train.labels, 10, epochs=epochs, log=print)
    card = {"data": "scikit-learn digits, 8x8, 17 grey levels scaled to [0, 1]",
            "train_split": f"train ({len(train)} images)", "epochs": epochs,
            "train_accuracy": round(accuracy(model, train.images, train.labels), 4),
            "test_accuracy": round(accuracy(model, test.images, test.labels), 4),
            "test_split": f"held-out test ({len(test)} images, stratified, never trained on)",
            "features": "64-d penultimate layer (after ReLU)"}
    out = Path(__file__).resolve().parents[1] / "gentoolkit_image" / "data" / DIGITS_CLASSIFIER
    save_classifier(model, out, card)
    print(card)
