"""Image datasets: digits, image folders with classes, MNIST idx files, CIFAR-10 binary, bad input."""

import gzip
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from gentoolkit.errors import SkippedInputWarning
from gentoolkit_image.data import (DataError, load_cifar10, load_dataset, load_digits, load_image_folder,
                                   load_mnist, unpaired_domains)


def test_digits_splits_shapes_and_levels():
    train, test = load_digits("train"), load_digits("test")
    assert len(train) + len(test) == 1797 and len(test) == 360
    assert train.image_shape == (1, 8, 8) and train.num_classes == 10
    assert set(train.labels.tolist()) == set(range(10))
    assert float(train.images.min()) == 0.0 and float(train.images.max()) == 1.0
    assert torch.allclose(train.images * 16, (train.images * 16).round())  # 17 grey levels
    x, y = train[0]
    assert x.shape == (1, 8, 8) and 0 <= int(y) < 10


def test_digits_upscaled_stay_on_grey_levels():
    big = load_digits("test", size=16)
    assert big.image_shape == (1, 16, 16)
    assert torch.allclose(big.images * 16, (big.images * 16).round())
    assert torch.equal(big.labels, load_digits("test").labels)


def _png(path, size=(6, 6), value=128, mode="L"):
    Image.fromarray(np.full(size[::-1], value, dtype=np.uint8), mode=mode).save(path)


def test_image_folder_with_classes(tmp_path):
    for name, value in (("cats", 10), ("dogs", 200)):
        (tmp_path / name).mkdir()
        for i in range(3):
            _png(tmp_path / name / f"{i}.png", value=value + i)
    data = load_image_folder(tmp_path)
    assert data.classes == ["cats", "dogs"] and data.image_shape == (1, 6, 6)
    assert data.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert abs(float(data.images[3].mean()) - 200 / 255) < 1e-6
    assert load_image_folder(tmp_path, size=4, channels=3).image_shape == (3, 4, 4)


def test_broken_png_skipped_and_named_or_refused_when_strict(tmp_path):
    (tmp_path / "pets").mkdir()
    (tmp_path / "toys").mkdir()
    _png(tmp_path / "pets" / "a.png", value=10)
    (tmp_path / "pets" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    _png(tmp_path / "toys" / "c.png", value=200)
    with pytest.warns(SkippedInputWarning, match=r"1 of 3 images .* at file pets/broken\.png: Cannot read"):
        data = load_image_folder(tmp_path)
    assert data.labels.tolist() == [0, 1]  # labels stay with their images
    with pytest.raises(DataError, match="broken.png.*turn strict off"):
        load_image_folder(tmp_path, strict=True)


def test_mixed_sizes_named(tmp_path):
    _png(tmp_path / "a.png", size=(6, 6))
    _png(tmp_path / "b.png", size=(7, 6))
    with pytest.raises(DataError, match=r"at file b\.png: it is 7x6 but a\.png is 6x6.*turn strict off"):
        load_image_folder(tmp_path, strict=True)
    with pytest.warns(SkippedInputWarning, match=r"1 of 2 images"):
        assert len(load_image_folder(tmp_path)) == 1
    assert load_image_folder(tmp_path, size=5).image_shape == (1, 5, 5)  # resizing while loading is allowed


def _idx(path, array, gz=False):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(struct.pack(">I", s) for s in array.shape)
    (gzip.open if gz else open)(path, "wb").write(header + array.astype(np.uint8).tobytes())


def test_mnist_idx_files(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28))
    _idx(tmp_path / "t10k-images-idx3-ubyte.gz", images, gz=True)
    _idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([3, 1, 4, 1, 5]))
    data = load_mnist(tmp_path, split="test")
    assert data.image_shape == (1, 28, 28) and data.labels.tolist() == [3, 1, 4, 1, 5]
    assert torch.allclose(data.images[2, 0] * 255, torch.from_numpy(images[2]).float())
    assert load_dataset("fashion-mnist", str(tmp_path), split="test", size=16).image_shape == (1, 16, 16)


def test_mnist_truncated_and_missing(tmp_path):
    _idx(tmp_path / "train-images-idx3-ubyte", np.zeros((4, 28, 28)))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 4) + b"\x01")
    with pytest.raises(DataError, match="train-labels-idx1-ubyte is truncated"):
        load_mnist(tmp_path)
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte"):
        load_mnist(tmp_path, split="test")


def test_cifar_binary_and_pickle_refused(tmp_path):
    records = np.zeros((2, 3073), dtype=np.uint8)
    records[:, 0] = [7, 2]
    records[1, 1:] = 255
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    records.tofile(folder / "test_batch.bin")
    data = load_cifar10(tmp_path, split="test")
    assert data.image_shape == (3, 32, 32) and data.labels.tolist() == [7, 2]
    assert float(data.images[1].min()) == 1.0 and data.classes[7] == "horse"
    pickled = tmp_path / "py"
    pickled.mkdir()
    (pickled / "data_batch_1").write_bytes(b"not opened")
    with pytest.raises(DataError, match="pickled python version"):
        load_cifar10(pickled)


def test_unpaired_domains_are_disjoint_transforms():
    data = load_digits("test")
    pairs = unpaired_domains(data, "invert")
    (a, b), label = pairs[0]
    assert a.shape == b.shape == (1, 8, 8) and int(label) == -1
    assert len(pairs.a) + len(pairs.b) == len(data)
    assert float(pairs.a[:, 0, 0, 0].mean()) < 0.1 < 0.9 < float(pairs.b[:, 0, 0, 0].mean())  # B is inverted


def test_folder_split_with_a_one_image_class(tmp_path):
    for name, count in (("many", 9), ("single", 1)):
        (tmp_path / name).mkdir()
        for i in range(count):
            _png(tmp_path / name / f"{i}.png", value=i)
    train, test = load_image_folder(tmp_path, split="train"), load_image_folder(tmp_path, split="test")
    assert len(train) == 8 and len(test) == 2 and train.classes == ["many", "single"]
