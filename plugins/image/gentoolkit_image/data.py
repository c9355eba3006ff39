"""Image datasets: scikit-learn's digits, image folders, MNIST / Fashion-MNIST idx files and
the binary CIFAR-10 batches, all as :class:`ImageDataset` of images in [0, 1].

Only formats that cannot run code are read: images through Pillow, idx and CIFAR-10 ``.bin``
files byte by byte. The pickled "python version" of CIFAR-10 is refused, never unpickled.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gentoolkit import ItemSpec
from gentoolkit.errors import GentoolkitError, UnknownNameError, skip_bad_records

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
SPLITS = ("train", "test", "all")


class DataError(GentoolkitError):
    """An image file or dataset folder that cannot be read as asked."""


class ImageDataset(torch.utils.data.Dataset):
    """Images (N, C, H, W) in [0, 1] with optional integer labels; items are ``(image, label)``,
    label -1 when the set has none."""

    def __init__(self, images: Tensor, labels: Tensor | None = None, classes: list[str] | None = None,
                 levels: int = 256, name: str = ""):
        self.images = images.float()
        self.labels = labels.long() if labels is not None else None
        self.classes = list(classes or [])
        self.levels = levels  # discrete grey levels per channel (17 for digits, 256 for 8-bit images)
        self.name = name

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        label = self.labels[i] if self.labels is not None else torch.tensor(-1)
        return self.images[i], label

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.classes) if self.labels is not None else 0

    @property
    def item_spec(self) -> ItemSpec:
        classes = tuple(self.classes) if self.labels is not None else ()
        return ItemSpec("image", self.image_shape, (0.0, 1.0), classes=classes)

    def subset(self, index: Tensor | np.ndarray) -> ImageDataset:
        index = torch.as_tensor(index, dtype=torch.long)
        labels = self.labels[index] if self.labels is not None else None
        return ImageDataset(self.images[index], labels, self.classes, self.levels, self.name)


def resize(images: Tensor, size: int | None) -> Tensor:
    """Square images of side ``size`` (bilinear, antialiased when shrinking); None keeps them."""
    if not size or images.shape[-1] == size and images.shape[-2] == size:
        return images
    out = torch.nn.functional.interpolate(images, size=(size, size), mode="bilinear",
                                          align_corners=False, antialias=size < images.shape[-1])
    return out.clamp(0, 1)


def quantize(images: Tensor, levels: int) -> Tensor:
    """Snap values in [0, 1] to ``levels`` evenly spaced grey levels."""
    return torch.round(images * (levels - 1)) / (levels - 1)


def split_indices(n: int, split: str, labels: np.ndarray | None, test: float = 0.2) -> np.ndarray:
    """A fixed (stratified when labelled) train/test partition of ``range(n)``, the same every run."""
    from sklearn.model_selection import train_test_split

    if split not in SPLITS:
        raise UnknownNameError("split", split, SPLITS)
    index = np.arange(n)
    if split == "all":
        return index
    try:
        train_idx, test_idx = train_test_split(index, test_size=test, random_state=0, stratify=labels)
    except ValueError:  # a class too small to appear on both sides: split without stratifying
        train_idx, test_idx = train_test_split(index, test_size=test, random_state=0)
    return np.sort(train_idx if split == "train" else test_idx)


# --- scikit-learn digits ------------------------------------------------------------------------

def load_digits(split: str = "train", size: int | None = None) -> ImageDataset:
    """scikit-learn's 1,797 digits (8x8, grey levels 0..16), optionally upscaled to ``size``.

    Splits are fixed and stratified: train 80 %, test 20 %. Upscaled images are
    snapped back to the 17 grey levels so likelihood models still see discrete data.
    """
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    images = torch.from_numpy(bunch.images).float().unsqueeze(1) / 16.0
    index = split_indices(len(images), split, bunch.target)
    images = quantize(resize(images[index], size), 17)
    labels = torch.from_numpy(bunch.target[index])
    return ImageDataset(images, labels, [str(c) for c in range(10)], levels=17, name="digits")


# --- image folders ------------------------------------------------------------------------------

def _read_image(path: Path, mode: str | None) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            mode = mode or ("L" if image.mode in ("1", "L", "LA", "I", "I;16") else "RGB")
            array = np.array(image.convert(mode))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise DataError(f"Cannot read image {path}: {err}. Fix or remove the file.") from err
    return array[..., None] if array.ndim == 2 else array


def load_image_folder(path: str | os.PathLike, size: int | None = None, channels: int | None = None,
                      split: str = "all", strict: bool = False) -> ImageDataset:
    """PNG/JPEG images from ``path``: one subfolder per class gives labels, a flat folder none.

    All images must have the first one's size unless ``size`` resizes them; ``channels`` 1 or 3
    converts them (0 or None: grey if the first image is grey, else RGB). An unreadable image or
    one of another size is skipped and reported, or refused when ``strict``.
    """
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"Image folder {root} does not exist or is not a folder.")
    subdirs = sorted(p for p in root.iterdir() if p.is_dir())
    groups = [(d.name, d) for d in subdirs] if subdirs else [("", root)]
    files: list[tuple[Path, int]] = []
    for label, (_, folder) in enumerate(groups):
        files += [(f, label) for f in sorted(folder.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise DataError(f"No PNG or JPEG images in {root} (looked in {len(groups)} folder(s)).")
    if channels not in (0, 1, 3, None):
        raise DataError(f"channels must be 1 or 3 (or 0 for automatic), not {channels!r}.")
    mode = {1: "L", 3: "RGB"}.get(channels or 0)
    arrays, kept, bad, first = [], [], [], None
    for file, label in files:
        try:
            array = _read_image(file, mode)
        except DataError as err:
            bad.append((f"file {file.relative_to(root)}", str(err)))
            continue
        mode = mode or ("L" if array.shape[-1] == 1 else "RGB")
        if size:
            array = resize(torch.from_numpy(array).permute(2, 0, 1)[None].float() / 255, size)[0]
            array = (array.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        if first is None:
            first = (file, array.shape)
        elif array.shape != first[1]:
            bad.append((f"file {file.relative_to(root)}",
                        f"it is {array.shape[1]}x{array.shape[0]} but {first[0].name} is {first[1][1]}x{first[1][0]}; "
                        "resize the images, or set the dataset's size to resize while loading"))
            continue
        arrays.append(array)
        kept.append(label)
    skip_bad_records(str(root), bad, len(files), strict, "images", DataError)
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 255
    labels = torch.tensor(kept) if subdirs else None
    index = split_indices(len(images), split, labels.numpy() if labels is not None else None)
    dataset = ImageDataset(images, labels, [name for name, _ in groups] if subdirs else None, 256, root.name)
    return dataset.subset(index)


# --- MNIST / Fashion-MNIST idx files ------------------------------------------------------------

IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _find(root: Path, stem: str) -> Path:
    for candidate in (root / stem, root / f"{stem}.gz", root / stem.replace("-idx", ".idx")):
        if candidate.exists():
            return candidate
    raise DataError(f"{root} has no {stem} (or {stem}.gz): give the folder holding the MNIST-format idx files.")


def read_idx(path: Path) -> np.ndarray:
    """An idx-ubyte array (optionally gzipped), as written by LeCun's MNIST distribution."""
    raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte idx file (bad magic number).")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DataError(f"{path} is truncated: header says {shape}, file holds {data.size} values.")
    return data.reshape(shape)


def load_mnist(path: str | os.PathLike, split: str = "train", size: int | None = None,
               name: str = "mnist") -> ImageDataset:
    """MNIST or Fashion-MNIST from the idx files in ``path`` (split "train" or "test")."""
    if split not in IDX_FILES:
        raise UnknownNameError("split", split, IDX_FILES)
    root = Path(path)
    image_file, label_file = (_find(root, stem) for stem in IDX_FILES[split])
    images, labels = read_idx(image_file), read_idx(label_file)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{image_file} ({images.shape}) and {label_file} ({labels.shape}) do not match.")
    tensor = resize(torch.from_numpy(images.copy()).unsqueeze(1).float() / 255, size)
    classes = FASHION_CLASSES if name == "fashion-mnist" else [str(c) for c in range(10)]
    return ImageDataset(tensor, torch.from_numpy(labels.astype(np.int64)), classes, 256, name)


FASHION_CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                   "boot"]

# --- CIFAR-10 binary batches --------------------------------------------------------------------

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CIFAR_RECORD = 1 + 3 * 32 * 32


def load_cifar10(path: str | os.PathLike, split: str = "train", size: int | None = None) -> ImageDataset:
    """CIFAR-10 from the binary version (``cifar-10-batches-bin/*.bin``: a label byte and 3,072
    pixel bytes per record)."""
    root = Path(path)
    if (root / "cifar-10-batches-bin").is_dir():
        root = root / "cifar-10-batches-bin"
    names = {"train": [f"data_batch_{i}.bin" for i in range(1, 6)], "test": ["test_batch.bin"]}
    if split not in names:
        raise UnknownNameError("split", split, names)
    if not (root / names[split][0]).exists():
        pickled = (root / "data_batch_1").exists() or (root / "cifar-10-batches-py").exists()
        hint = (" This looks like the pickled python version, which gentoolkit does not unpickle: "
                "download the binary version (cifar-10-binary.tar.gz) instead." if pickled else "")
        raise DataError(f"{root} has no {names[split][0]}: give the cifar-10-batches-bin folder.{hint}")
    records = []
    for name in names[split]:
        raw = np.fromfile(root / name, dtype=np.uint8)
        if raw.size % CIFAR_RECORD:
            raise DataError(f"{root / name} is truncated: {raw.size} bytes is not a whole number of "
                            f"{CIFAR_RECORD}-byte records.")
        records.append(raw.reshape(-1, CIFAR_RECORD))
    data = np.concatenate(records)
    images = resize(torch.from_numpy(data[:, 1:].reshape(-1, 3, 32, 32).copy()).float() / 255, size)
    return ImageDataset(images, torch.from_numpy(data[:, 0].astype(np.int64)), CIFAR_CLASSES, 256, "cifar10")


# --- by name ------------------------------------------------------------------------------------

LOADERS = {
    "digits": lambda path="", **kw: load_digits(**kw),
    "folder": lambda path="", **kw: load_image_folder(path, **kw),
    "mnist": lambda path="", **kw: load_mnist(path, name="mnist", **kw),
    "fashion-mnist": lambda path="", **kw: load_mnist(path, name="fashion-mnist", **kw),
    "cifar10": lambda path="", **kw: load_cifar10(path, **kw),
}


def load_dataset(name: str, path: str = "", **params: Any) -> ImageDataset:
    """The image dataset ``name`` (digits needs no path; the others read the files at ``path``)."""
    if name not in LOADERS:
        raise UnknownNameError("image dataset", name, LOADERS)
    if name != "digits" and not path:
        raise DataError(f"Dataset {name!r} reads files you already have: set its path.")
    if name != "folder":  # idx and CIFAR files are read whole: a bad one is refused already
        params.pop("strict", None)
    return LOADERS[name](path=path, **params)


# --- two unpaired domains, for CycleGAN ----------------------------------------------------------

DOMAIN_TRANSFORMS = {
    "invert": lambda x: 1 - x,
    "rotate": lambda x: torch.rot90(x, 1, dims=(-2, -1)),
}


class UnpairedDataset(torch.utils.data.Dataset):
    """Items ``((a, b), -1)``: image i of domain A with an unrelated image of domain B, so a
    translation model never sees pairs."""

    def __init__(self, a: Tensor, b: Tensor, seed: int = 0):
        self.a, self.b = a, b
        self.partner = torch.randperm(len(b), generator=torch.Generator().manual_seed(seed))

    def __len__(self) -> int:
        return len(self.a)

    def __getitem__(self, i: int) -> tuple[tuple[Tensor, Tensor], Tensor]:
        return (self.a[i], self.b[self.partner[i % len(self.b)]]), torch.tensor(-1)


def unpaired_domains(dataset: ImageDataset, domain_b: str, seed: int = 0) -> UnpairedDataset:
    """Domain A: the first half of ``dataset``; domain B: the other half transformed by
    ``domain_b`` ("invert" or "rotate"), so no image appears in both domains."""
    if domain_b not in DOMAIN_TRANSFORMS:
        raise UnknownNameError("domain transform", domain_b, DOMAIN_TRANSFORMS)
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
    half = len(order) // 2
    a, b = dataset.images[order[:half]], DOMAIN_TRANSFORMS[domain_b](dataset.images[order[half:]])
    return UnpairedDataset(a, b, seed)
