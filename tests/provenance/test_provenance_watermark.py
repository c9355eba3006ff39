"""The image watermark: read back exactly, survives JPEG and a 0.5x rescale with its payload intact
(Reed-Solomon), keyed, and silent on unmarked digits."""


import numpy as np
import pytest

from gentoolkit_provenance import watermark as wm

from .conftest import digit_grid, jpeg

KEY = b"test-key"


def test_marked_grids_read_back_with_their_payload_and_low_psnr_cost(digits):
    rng = np.random.default_rng(0)
    psnrs = []
    for n in (1, 16, 100):
        grid = digit_grid(digits, rng, n=n)
        marked = wm.embed(grid, KEY, 0xDEADBEEF)
        reading = wm.read(marked, KEY)
        assert reading.marked and reading.bit_accuracy == 1.0 and reading.payload == "deadbeef"
        psnrs.append(10 * np.log10(255 ** 2 / np.mean((marked.astype(float) - grid) ** 2)))
    assert min(psnrs) > 34  # measured 36-39 dB on digit grids


@pytest.mark.parametrize("quality, min_accuracy", [(90, 1.0), (50, 0.9)])
def test_the_mark_survives_jpeg(digits, quality, min_accuracy):
    rng = np.random.default_rng(1)
    for _ in range(10):
        reading = wm.read(jpeg(wm.embed(digit_grid(digits, rng), KEY, 7), quality), KEY)
        assert reading.marked and reading.bit_accuracy >= min_accuracy


def halve(pixels):
    from PIL import Image

    return np.asarray(Image.fromarray(pixels).resize((pixels.shape[1] // 2, pixels.shape[0] // 2), Image.BICUBIC))


@pytest.mark.parametrize("n", [16, 100])
def test_the_mark_and_its_payload_survive_halving(digits, n):
    # 100 digits at 3x (the image task's default grid): 3-px digit pixels blur across block edges when
    # halved; unblurred block means read 0/100 of them (bench/provenance.py), blurred ones all.
    rng = np.random.default_rng(5)
    for payload in rng.integers(0, 2 ** 32, 3):
        reading = wm.read(halve(wm.embed(digit_grid(digits, rng, n=n), KEY, int(payload))), KEY)
        assert reading.marked and reading.scale == pytest.approx(2, abs=0.02)
        assert reading.payload == f"{int(payload):08x}"


def test_the_payload_is_recovered_after_jpeg_q50(digits):
    rng = np.random.default_rng(6)
    for payload in (0x12345678, 0xFFFFFFFF, 0):
        reading = wm.read(jpeg(wm.embed(digit_grid(digits, rng, n=100), KEY, payload), 50), KEY)
        assert reading.marked and reading.payload == f"{payload:08x}"


def test_reed_solomon_repairs_two_wrong_bytes_and_refuses_more():
    code = wm._whiten(KEY, wm._encode(0xCAFE0042))
    votes = 1.0 - 2.0 * code  # confident votes: +1 for a 0 bit, -1 for a 1
    assert wm._decode(KEY, votes) == ("cafe0042", 0)
    two = votes.copy()
    two[[3, 21]] *= -1  # one wrong bit in byte 0 and one in byte 2: confidently wrong
    assert wm._decode(KEY, two) == ("cafe0042", 2)
    unsure = votes.copy()
    unsure[[0, 9]] *= -0.1  # two bytes wrong but read unsure: erased, so a third wrong byte can be repaired
    unsure[17] *= -1
    assert wm._decode(KEY, unsure) == ("cafe0042", 3)
    three = votes.copy()
    three[[24, 40, 56]] *= -1  # three bytes confidently wrong: more than 4 parity bytes can fix
    assert wm._decode(KEY, three)[0] != "cafe0042"


def test_the_mark_survives_cropping_any_edge(digits):
    marked = wm.embed(digit_grid(digits, np.random.default_rng(5), n=16), KEY, 0xBEEF)
    assert wm.read(marked[:240, :200], KEY).marked
    top_left = wm.read(marked[27:, 13:], KEY)  # a shifted block grid: every alignment is tried
    assert top_left.marked and top_left.payload == "0000beef"
    assert not wm.read(marked[(wm.MAX_CROP + 2) * wm.BLOCK:], KEY).marked  # more than MAX_CROP blocks: lost


def test_the_mark_is_keyed():
    rng = np.random.default_rng(2)
    marked = wm.embed(rng.integers(0, 256, (256, 256), dtype=np.uint8), KEY, 1)
    assert not wm.read(marked, b"another key").marked


def test_colour_and_alpha_images_are_marked_in_luma_and_alpha_is_kept():
    rng = np.random.default_rng(3)
    rgba = rng.integers(0, 256, (200, 300, 4), dtype=np.uint8)
    marked = wm.embed(rgba, KEY, 5)
    assert np.array_equal(marked[..., 3], rgba[..., 3])
    assert wm.read(marked, KEY).marked and wm.read(marked[..., :3], KEY).marked


def test_too_small_images_are_refused_not_pretended():
    assert wm.capacity(64, 64) == 0  # 64 blocks < 2 copies of 112 bits (48 sync, 32 payload, 32 parity)
    with pytest.raises(ValueError, match="too small"):
        wm.embed(np.zeros((64, 64), dtype=np.uint8), KEY, 0)
    assert wm.read(np.zeros((32, 32), dtype=np.uint8), KEY).p_value is None  # too small even if it was halved
    assert not wm.read(np.zeros((64, 64), dtype=np.uint8), KEY).marked


def test_no_false_positives_on_unmarked_digit_grids(digits):
    rng = np.random.default_rng(4)  # bench/provenance.py: 0 of 2,000
    grids = [digit_grid(digits, rng, n=int(rng.choice([1, 16, 64, 100]))) for _ in range(40)]
    p_values = np.array([wm.read(grid, KEY).p_value for grid in grids])
    assert (p_values < wm.THRESHOLD).sum() == 0 and p_values.min() > 1e-4  # reading time: bench/provenance.py
