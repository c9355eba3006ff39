"""Shared fixtures for the audio plugin's tests: a toolkit holding only the audio plugin, a
private eSpeak cache and a tiny spoken-digits set."""

from __future__ import annotations

import pytest
import torch

torch.set_num_threads(1)

TINY_DIGITS = {"voices": 3, "test_voices": 1, "renditions": 1}  # 20 train clips, 10 test


@pytest.fixture(scope="session")
def tiny_digits():
    """Dataset options of the tiny spoken-digits set."""
    return dict(TINY_DIGITS)


@pytest.fixture(scope="session")
def audio_kit():
    import gentoolkit_audio
    from gentoolkit import Toolkit

    return Toolkit(plugins=[gentoolkit_audio], entrypoints=False)


@pytest.fixture(scope="session")
def digits_cache(tmp_path_factory):
    """A cache folder holding the tiny spoken-digits set, rendered once per session."""
    import os

    from gentoolkit_audio.digits import load_spoken_digits

    folder = tmp_path_factory.mktemp("cache")
    old = os.environ.get("GENTOOLKIT_CACHE")
    os.environ["GENTOOLKIT_CACHE"] = str(folder)
    load_spoken_digits("all", **TINY_DIGITS)
    yield folder
    if old is None:
        os.environ.pop("GENTOOLKIT_CACHE", None)
    else:
        os.environ["GENTOOLKIT_CACHE"] = old
