"""``detect(paths)``: for each file, the watermark verdict with its statistic and the manifest state."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from gentoolkit.errors import GentoolkitError

from gentoolkit_provenance import audiomark, watermark
from gentoolkit_provenance.c2pa_manifest import MIME_TYPES, read_c2pa
from gentoolkit_provenance.manifest import SUFFIX, verify_manifest
from gentoolkit_provenance.passive import opinion
from gentoolkit_provenance.settings import Settings, load_settings
from gentoolkit_provenance.textmark import read_text_file

__all__ = ["READABLE_IMAGES", "READABLE_AUDIO", "MANIFEST_ONLY", "detect", "check_file", "expand"]

READABLE_IMAGES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
READABLE_AUDIO = (".wav", ".flac", ".ogg")
MANIFEST_ONLY = {".csv": "molecules", ".sdf": "molecules", ".smi": "molecules"}


def detect(paths: Iterable[str | Path], key: str | None = None, toolkit: Any = None) -> list[dict[str, Any]]:
    """One report per file (folders are walked; sidecar manifests are read with their file). Readers
    other plugins register (``register_provenance_readers``) in ``toolkit`` read their file types."""
    settings = load_settings(key)
    readers = {}
    if toolkit is not None:
        for reader in toolkit.contributions("register_provenance_readers", "provenance reader").values():
            readers.update({suffix.lower(): reader for suffix in reader.suffixes})
    return [check_file(path, settings, readers) for path in expand(paths)]


def expand(paths: Iterable[str | Path]) -> list[Path]:
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and not p.name.endswith(SUFFIX))
        elif path.is_file():
            files.append(path)
        else:
            raise GentoolkitError(f"Cannot check {path}: no such file or folder. Pass existing files or run folders.")
    return files


def check_file(path: Path, settings: Settings, readers: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report for one file: ``status`` is marked, tampered, unmarked or unsupported; ``manifest`` is
    the signed sidecar's state, ``c2pa`` the embedded C2PA manifest's (PNG, JPEG, WAV; else None),
    ``passive`` the passive detector's second opinion on 8x8 digits (else None, and None on watermarked
    images, which it misreads; it never sets ``status``)."""
    suffix = path.suffix.lower() or "(no extension)"
    manifest = verify_manifest(path, settings)
    c2pa, passive = None, opinion(path)
    if suffix in READABLE_IMAGES:
        kind, mark = "image", _read_image(path, settings)
        if suffix in MIME_TYPES:
            c2pa = read_c2pa(path)
    elif suffix in (readers or {}):
        kind, mark = readers[suffix].name, dict(readers[suffix].read(path, settings.key))
    elif suffix in READABLE_AUDIO:
        kind, mark = "audio", _read_audio(path, settings)
        if suffix in MIME_TYPES:
            c2pa = read_c2pa(path)
    elif suffix == ".jsonl":
        kind, mark = "text", read_text_file(path, manifest.get("manifest", {}).get("text_watermark"), settings)
    elif suffix in MANIFEST_ONLY:
        kind, mark = MANIFEST_ONLY[suffix], {"verdict": "none possible",
                                             "reason": f"no invisible watermark for {suffix} files; see the manifest"}
    elif manifest["state"] != "absent" or passive is not None:
        kind, mark = "other", {"verdict": "none possible", "reason": f"no watermark reader for {suffix}"}
    else:
        return {"file": str(path), "kind": "unknown", "status": "unsupported",
                "reason": f"no provenance marker for {suffix}", "watermark": None, "manifest": manifest, "c2pa": None,
                "passive": None}
    if kind == "image" and mark.get("verdict") == "marked":
        passive = None  # the watermark moves the near-constant pixels the passive detector leans on
    states = {manifest["state"], (c2pa or {}).get("state")}
    if "tampered" in states:
        status = "tampered"
    elif mark["verdict"] == "marked" or states & {"valid", "untrusted"}:
        status = "marked"
    else:
        status = "unmarked"
    return {"file": str(path), "kind": kind, "status": status, "watermark": mark, "manifest": manifest, "c2pa": c2pa,
            "passive": passive}


def _read_image(path: Path, settings: Settings) -> dict[str, Any]:
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image = image.convert("L" if image.mode in ("1", "L", "LA", "I", "I;16") else "RGB")
    except (UnidentifiedImageError, OSError) as err:
        return {"verdict": "unreadable", "reason": f"not a readable image: {err}"}
    reading = watermark.read(np.asarray(image), settings.key)
    if reading.p_value is None:
        return {"verdict": "too small", "reason": f"{image.width}x{image.height} holds too few 8x8 blocks"}
    found = {"verdict": "marked" if reading.marked else "unmarked", "bit_accuracy": round(reading.bit_accuracy, 4),
             "p_value": reading.p_value, "threshold": watermark.THRESHOLD, "payload": reading.payload}
    if reading.marked:  # the payload is the run id's first 8 hex digits, or None when too damaged to correct
        found["payload_bytes_corrected"] = reading.corrected
    return found


def _read_audio(path: Path, settings: Settings) -> dict[str, Any]:
    import soundfile

    try:
        waveform, rate = soundfile.read(str(path), dtype="float64")
    except (RuntimeError, soundfile.LibsndfileError, OSError) as err:
        return {"verdict": "unreadable", "reason": f"not a readable audio file: {err}"}
    z = audiomark.score(waveform, rate, settings.key)
    if z is None:
        return {"verdict": "too short", "reason": f"{len(waveform) / rate:.2f} s at {rate} Hz: too short or silent"}
    return {"verdict": "marked" if z >= audiomark.Z_THRESHOLD else "unmarked", "z_score": round(z, 2),
            "p_value": audiomark.p_value(z), "threshold": audiomark.Z_THRESHOLD}
