"""A keyed DWT-DCT watermark for images, carrying 48 sync bits and a 32-bit run-id payload that a
Reed-Solomon code (``reedsolo``, 4 parity bytes) protects.

The scheme is the DC branch of DWT-DCT: one level of Haar DWT, 4x4 DCT blocks of its LL band, and
quantisation index modulation (QIM) of each block's DC term. That DC term is exactly 8x the mean of
an 8x8 pixel block, so we quantise block means directly in NumPy instead of calling PyWavelets and
scipy for an identity. The means are taken after a Gaussian blur (sigma SIGMA px): a rescale is a
low-pass filter, and a blurred block mean barely moves under one, while a sharp one picks up the
hard edges of enlarged digits (0.5x downscale of the 100-digit grid: 0/100 found without the blur).
Embedding adds a constant to each block, in a few passes, as the blur couples neighbours. We do not
use ``invisible-watermark``: it has no key (anyone decodes and forges it), it wants 3-channel
images of at least 256x256 and marks the chroma by default (lost in our grayscale grids), and it
pulls the GUI build of OpenCV.

The key seeds a per-block dither, the block-to-bit assignment and the sync bits, so without the key
the marks read as noise. Detection needs no original: bit accuracy over the sync bits gives an exact
binomial p-value; the payload is read only then, by soft votes over its copies and the RS decoder.
Block means survive JPEG and mild noise. Bits and dither depend on a block's position only, so
cropping the right or bottom edge keeps the mark; detection also tries undoing a 0.5x or 0.75x
downscale, and then every alignment a crop of up to MAX_CROP blocks off the top or left edge leaves
(64 pixel offsets times 81 block shifts), paying for the search in the p-value.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from reedsolo import ReedSolomonError, RSCodec

__all__ = ["BLOCK", "SYNC_BITS", "PAYLOAD_BITS", "CODE_BITS", "MESSAGE_BITS", "STEP", "THRESHOLD", "Reading",
           "capacity", "embed", "read"]

BLOCK = 8  # pixels per block side: a 4x4 DCT block of the Haar LL band
SYNC_BITS = 48  # key-derived bits the detector knows
PAYLOAD_BITS = 32  # run-id bits
PARITY_BYTES = 4  # Reed-Solomon parity: corrects 2 wrong bytes, or 3 when 2 of them were read unsure
CODE_BITS = PAYLOAD_BITS + 8 * PARITY_BYTES  # the coded payload, whitened with the key
STEP = 6.0  # QIM step on the blurred block mean, in grey levels
SIGMA = 2.0  # Gaussian blur (px) before block means: 1.5-2.5 measured; larger costs PSNR, smaller robustness
EMBED_ROUNDS = 4  # embedding passes: each corrects what blur coupling and clipping left of the last
MIN_COPIES = 2  # fewer blocks per bit than this: the image is too small to carry the mark
LUMA = np.array([0.299, 0.587, 0.114])  # BT.601 luma weights
TABLE = 512  # blocks per side of the keyed dither table (larger images repeat it)
RESCALES = (2.0, 4 / 3)  # detection also tries undoing a 0.5x and a 0.75x downscale
THRESHOLD = 1e-6  # p-value below which an image is called watermarked
MAX_CROP = 8  # blocks (64 px) a top or left crop may remove and still be found: 10% of a 640 px image
MESSAGE_BITS = SYNC_BITS + CODE_BITS
ALIGNMENTS = BLOCK * BLOCK * (MAX_CROP + 1) ** 2  # pixel offsets within a block, times block shifts


@dataclass
class Reading:
    """What the detector read from one image."""

    blocks: int  # 8x8 blocks available
    bit_accuracy: float | None  # fraction of sync bits read right (None: image too small)
    p_value: float | None  # P(at least that many right | unmarked), exact binomial
    payload: str | None  # the 32 payload bits as hex, after error correction (None: uncorrectable)
    scale: float = 1.0  # the enlargement it was read at (2.0: the image had been halved)
    corrected: int = 0  # payload bytes the Reed-Solomon code repaired

    @property
    def marked(self) -> bool:
        return self.p_value is not None and self.p_value < THRESHOLD


def capacity(height: int, width: int) -> int:
    """How many copies of the 112-bit message an image of this size holds (0: too small)."""
    copies = (height // BLOCK) * (width // BLOCK) // MESSAGE_BITS
    return copies if copies >= MIN_COPIES else 0


def embed(pixels: np.ndarray, key: bytes, payload: int) -> np.ndarray:
    """Mark uint8 ``pixels`` (H, W) or (H, W, C; the first 3 channels shift together, alpha kept)."""
    height, width = pixels.shape[:2]
    if not capacity(height, width):
        raise ValueError(f"a {width}x{height} image is too small for the watermark")
    plan = _plan(key, height, width)
    bits = np.concatenate([plan.sync, _whiten(key, _encode(payload))])[plan.bit_of_block]  # (bh, bw)
    colour = pixels[..., :3].astype(np.float64) if pixels.ndim == 3 else pixels[..., None].astype(np.float64)
    bh, bw = plan.shape
    blocks = _blocks(colour, plan.shape)  # (bh, bw, 8, 8, C)
    mean = _block_means(colour @ LUMA if colour.shape[2] == 3 else colour[..., 0], plan.shape)
    offset = plan.dither + bits * STEP / 2
    below = offset + np.floor((mean - offset) / STEP) * STEP  # nearest lattice points for the bit
    above = below + STEP
    room_down, room_up = blocks.min(axis=(2, 3, 4)), 255.0 - blocks.max(axis=(2, 3, 4))
    down_ok, up_ok = mean - below <= room_down, above - mean <= room_up
    prefer_down = (mean - below) <= (above - mean)
    go_down = np.where(prefer_down, down_ok | ~up_ok, down_ok & ~up_ok)  # avoid clipping where we can
    target = np.where(go_down, below, above)
    out = colour.copy()
    for _ in range(EMBED_ROUNDS):  # each pass moves every block by what its blurred mean still lacks
        luma = out @ LUMA if out.shape[2] == 3 else out[..., 0]
        shift = (target - _block_means(luma, plan.shape)) / _self_weight()
        out[:bh * BLOCK, :bw * BLOCK] += np.kron(shift, np.ones((BLOCK, BLOCK)))[..., None]
        np.clip(out, 0, 255, out=out)
    out = np.rint(out).astype(np.uint8)
    if pixels.ndim == 2:
        return out[..., 0]
    return np.concatenate([out, pixels[..., 3:]], axis=2)


def read(pixels: np.ndarray, key: bytes) -> Reading:
    """Read the watermark from uint8 ``pixels``: sync-bit accuracy, its p-value and the payload.

    First the image as it is and at each size it may have had before a downscale by 1/``RESCALES``;
    then, unless that found the mark, every alignment a crop of up to ``MAX_CROP`` blocks off the
    top and left edges may have left. The best reading is kept. Its p-value is Bonferroni-corrected:
    half the error budget for the sizes, half for the alignments, each split over those tried.
    """
    sizes = _original_sizes(*pixels.shape[:2])
    scaled = [_read_at(pixels, key)]
    if scaled[0].p_value is None or scaled[0].p_value * 2 * (1 + len(sizes)) >= THRESHOLD:  # else: found as it is
        scaled += [replace(_read_at(_resize(pixels, size), key), scale=size[0] / pixels.shape[1]) for size in sizes]
    readings = [replace(r, p_value=min(1.0, r.p_value * 2 * (1 + len(sizes)))) for r in scaled if r.p_value is not None]
    if not any(r.marked for r in readings):
        cropped = _read_at(pixels, key, search=True)
        if cropped.p_value is not None:
            readings.append(replace(cropped, p_value=min(1.0, cropped.p_value * 2 * ALIGNMENTS)))
    if not readings:
        return Reading((pixels.shape[0] // BLOCK) * (pixels.shape[1] // BLOCK), None, None, None)
    best = min(readings, key=lambda r: r.p_value)
    return best if best.marked else replace(best, payload=None, corrected=0)


def _original_sizes(height: int, width: int) -> list[tuple[int, int]]:
    """(width, height) an image of this size may have had before a downscale by 1/f, f in RESCALES."""
    sizes = []
    for f in RESCALES:
        widths = sorted({math.floor(width * f), math.ceil((width + 1) * f) - 1})
        heights = sorted({math.floor(height * f), math.ceil((height + 1) * f) - 1})
        sizes += [(w, h) for w in widths for h in heights]
    return sizes


def _resize(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(pixels).resize(size, Image.BICUBIC))


def _read_at(pixels: np.ndarray, key: bytes, search: bool = False) -> Reading:
    """The reading at the image's own block grid or, with ``search``, the best over every pixel offset
    and block shift a top or left crop may have left (p-value not yet corrected for either)."""
    height, width = pixels.shape[:2]
    blocks_n = (height // BLOCK) * (width // BLOCK)
    if not capacity(height, width):
        return Reading(blocks_n, None, None, None)
    luma = _blur(pixels[..., :3] @ LUMA if pixels.ndim == 3 else pixels.astype(np.float64))
    shifts = [(0, 0)] if not search else [(a, b) for a in range(MAX_CROP + 1) for b in range(MAX_CROP + 1)]
    best: tuple[int, np.ndarray] | None = None
    for dy, dx in [(0, 0)] if not search else [(y, x) for y in range(BLOCK) for x in range(BLOCK)]:
        bh, bw = (height - dy) // BLOCK, (width - dx) // BLOCK
        if not capacity(bh * BLOCK, bw * BLOCK):
            continue
        mean = luma[dy:dy + bh * BLOCK, dx:dx + bw * BLOCK].reshape(bh, BLOCK, bw, BLOCK).mean(axis=(1, 3))
        cos_d, sin_d, index, sync = _shifted_plan(key, bh, bw, len(shifts))
        phase = 2 * np.pi * mean / STEP
        soft = np.cos(phase) * cos_d + np.sin(phase) * sin_d  # cos(phase - dither): +1 bit 0, -1 bit 1
        votes = np.bincount(index, weights=soft.ravel(), minlength=len(shifts) * MESSAGE_BITS)
        votes = votes.reshape(len(shifts), MESSAGE_BITS)
        right = ((votes[:, :SYNC_BITS] < 0) == sync).sum(axis=1)
        if best is None or right.max() > best[0]:
            best = (int(right.max()), votes[int(right.argmax())])
    if best is None:
        return Reading(blocks_n, None, None, None)
    right, votes = best
    p_value = sum(math.comb(SYNC_BITS, k) for k in range(right, SYNC_BITS + 1)) / 2 ** SYNC_BITS
    payload, corrected = _decode(key, votes[SYNC_BITS:])
    return Reading(blocks_n, right / SYNC_BITS, p_value, payload, corrected=corrected)


def _encode(payload: int) -> np.ndarray:
    """The payload's 32 bits and their Reed-Solomon parity, as CODE_BITS 0/1 values."""
    code = _codec().encode((payload & 0xFFFFFFFF).to_bytes(PAYLOAD_BITS // 8, "big"))
    return np.unpackbits(np.frombuffer(bytes(code), dtype=np.uint8)).astype(np.int64)


def _decode(key: bytes, votes: np.ndarray) -> tuple[str | None, int]:
    """The payload as hex and how many bytes were repaired, from the coded bits' soft votes (negative:
    a 1 before whitening). If plain decoding fails, the 2 least certain bytes are erased and decoding
    retried: that repairs them plus 1 more error, and leaves 2 parity bytes to reject a wrong word."""
    bits = (votes < 0).astype(np.int64) ^ _whiten(key, np.zeros(CODE_BITS, dtype=np.int64))
    word = bytes(np.packbits(bits.astype(np.uint8)))
    certainty = np.abs(votes).reshape(-1, 8).min(axis=1)
    for erase in ([], sorted(np.argsort(certainty)[:PARITY_BYTES // 2].tolist())):
        try:
            message, _, errata = _codec().decode(word, erase_pos=erase or None)
        except ReedSolomonError:
            continue
        return bytes(message).hex(), len(errata)
    return None, 0


@lru_cache(maxsize=1)
def _codec() -> RSCodec:
    return RSCodec(PARITY_BYTES)


def _blur(luma: np.ndarray) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(luma, SIGMA, mode="nearest")


def _block_means(luma: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    bh, bw = shape
    return _blur(luma)[:bh * BLOCK, :bw * BLOCK].reshape(bh, BLOCK, bw, BLOCK).mean(axis=(1, 3))


@lru_cache(maxsize=1)
def _self_weight() -> float:
    """How much of a constant added to one block its own blurred mean sees (the rest leaks to neighbours)."""
    one = np.zeros((3 * BLOCK, 3 * BLOCK))
    one[BLOCK:2 * BLOCK, BLOCK:2 * BLOCK] = 1.0
    return float(_block_means(one, (3, 3))[1, 1])


@lru_cache(maxsize=16)
def _shifted_plan(key: bytes, bh: int, bw: int, shifts: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For a (bh, bw) block grid read at the first ``shifts`` block shifts (row-major over
    0..MAX_CROP): cos and sin of each block's dither phase (shifts, bh, bw), the vote index
    (shift * MESSAGE_BITS + bit, flattened) and the sync bits."""
    plan = _plan(key, (bh + MAX_CROP) * BLOCK, (bw + MAX_CROP) * BLOCK)  # blocks a crop removed included
    offsets = [(a, b) for a in range(MAX_CROP + 1) for b in range(MAX_CROP + 1)][:shifts]
    dither = np.stack([plan.dither[a:a + bh, b:b + bw] for a, b in offsets])
    bit = np.stack([plan.bit_of_block[a:a + bh, b:b + bw] for a, b in offsets])
    index = (bit + MESSAGE_BITS * np.arange(shifts)[:, None, None]).ravel()
    return np.cos(2 * np.pi * dither / STEP), np.sin(2 * np.pi * dither / STEP), index, plan.sync


@dataclass
class _Plan:
    shape: tuple[int, int]
    dither: np.ndarray  # (bh, bw) in [0, STEP)
    bit_of_block: np.ndarray  # (bh, bw) message bit index each block carries
    sync: np.ndarray  # (SYNC_BITS,) 0/1


def _plan(key: bytes, height: int, width: int) -> _Plan:
    # Block (r, c) carries bit perm[(37 r + c) mod 112] with dither table[r, c]: both depend on the
    # block's position only, so cropping the right or bottom edge keeps every remaining block valid.
    shape = (height // BLOCK, width // BLOCK)
    perm, table, sync = _keyed_tables(key)
    r, c = np.ogrid[:shape[0], :shape[1]]
    bit_of_block = perm[(37 * r + c) % MESSAGE_BITS]
    return _Plan(shape, table[r % TABLE, c % TABLE], bit_of_block, sync)


@lru_cache(maxsize=8)
def _keyed_tables(key: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(np.frombuffer(_derive(key, "image-plan"), dtype=np.uint32))
    perm = rng.permutation(MESSAGE_BITS)
    return perm, rng.uniform(0, STEP, (TABLE, TABLE)), rng.integers(0, 2, SYNC_BITS)


def _whiten(key: bytes, code: np.ndarray) -> np.ndarray:
    """``code`` (CODE_BITS 0/1) XOR a keyed mask, so the payload bits read as noise without the key."""
    mask = np.unpackbits(np.frombuffer(_derive(key, "image-payload")[:CODE_BITS // 8], dtype=np.uint8))
    return code ^ mask.astype(np.int64)


def _derive(key: bytes, purpose: str) -> bytes:
    return hmac.new(key, purpose.encode(), hashlib.sha256).digest()


def _blocks(colour: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    bh, bw = shape
    c = colour.shape[2]
    return colour[:bh * BLOCK, :bw * BLOCK].reshape(bh, BLOCK, bw, BLOCK, c).transpose(0, 2, 1, 3, 4).copy()
