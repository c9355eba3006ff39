"""Real, unmarked images for the provenance tests: grids of scikit-learn's 8x8 digits, laid out and
enlarged as the image plugin's ``save_grid`` does (1-pixel grey gaps, nearest-neighbour to >= 256 px)."""

import io
import math

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="session")
def digits():
    from sklearn.datasets import load_digits

    return load_digits().images / 16.0  # (1797, 8, 8) in [0, 1]


def digit_grid(digits, rng, n=16, nrow=None, min_side=256):
    nrow = nrow or math.ceil(math.sqrt(n))
    ncol = math.ceil(n / nrow)
    grid = np.full((ncol * 9 + 1, nrow * 9 + 1), 0.5)
    for i, j in enumerate(rng.integers(0, len(digits), n)):
        r, c = divmod(i, nrow)
        grid[1 + r * 9:9 + r * 9, 1 + c * 9:9 + c * 9] = digits[j]
    scale = max(1, math.ceil(min_side / max(grid.shape)))
    image = Image.fromarray((grid * 255).round().astype(np.uint8))
    return np.asarray(image.resize((image.width * scale, image.height * scale), Image.NEAREST))


def jpeg(pixels, quality):
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer))


@pytest.fixture(autouse=True)
def user_config(tmp_path, monkeypatch):
    """Each test gets an empty user config folder and no provenance variables from the shell."""
    folder = tmp_path / "user-config"
    folder.mkdir()
    monkeypatch.setenv("GENTOOLKIT_CONFIG_DIR", str(folder))
    monkeypatch.delenv("GENTOOLKIT_PROVENANCE_KEY", raising=False)
    monkeypatch.delenv("GENTOOLKIT_PROVENANCE_WATERMARK", raising=False)
    return folder
