"""Shared fixtures: a toolkit with only the anomaly and image plugins, and one-class digits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def kit():
    """Only these two plugins (registered by hand, they keep their installed names: saved detectors record them)."""
    import gentoolkit_anomaly
    import gentoolkit_image
    from gentoolkit import Toolkit

    return Toolkit(plugins=[gentoolkit_anomaly, gentoolkit_image], entrypoints=False)


@pytest.fixture(scope="session")
def digits(kit):
    """The one-class protocol's split: (train images, train labels, test images, test labels)."""
    from gentoolkit_anomaly.task import one_class_split

    return one_class_split(kit, "digits", 0.5, 0)[:4]


@pytest.fixture(scope="session")
def zero_images(digits):
    """As ``zeros``, but images (N, 1, 8, 8): for detectors built on image models."""
    x_train, y_train, x_test, y_test = digits
    return x_train[y_train == 0], x_test, (y_test != 0).astype(int)


@pytest.fixture(scope="session")
def zeros(digits):
    """Normal training items (digit 0, flat vectors), test items and their anomaly labels."""
    x_train, y_train, x_test, y_test = digits
    flat = lambda x: x.reshape(len(x), -1)  # noqa: E731
    return flat(x_train[y_train == 0]), flat(x_test), (y_test != 0).astype(int)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
