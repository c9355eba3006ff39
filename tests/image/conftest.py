"""Shared fixtures for the image plugin's tests: a toolkit holding only the image plugin."""

from __future__ import annotations

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def image_kit():
    """Models made here carry model cards, so they save and load through the core."""
    import gentoolkit_image
    from gentoolkit import Toolkit

    return Toolkit(plugins=[gentoolkit_image], entrypoints=False)
