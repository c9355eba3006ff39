"""What ``process_artifact`` does to each generated file: watermark and C2PA-sign images, tag SDF
records, record how to detect text's green-list watermark, and write the signed manifest beside every file."""

from __future__ import annotations

import uuid
import weakref
from importlib import metadata
from pathlib import Path
from typing import Any

from gentoolkit_provenance import watermark
from gentoolkit_provenance.credentials import find_credentials
from gentoolkit_provenance.manifest import write_manifest
from gentoolkit_provenance.settings import Settings, run_settings
from gentoolkit_provenance.textmark import detection_claims

__all__ = ["IMAGE_SUFFIXES", "AUDIO_SUFFIXES", "mark_artifact", "mark_png", "mark_audio", "tag_sdf", "run_id"]

IMAGE_SUFFIXES = (".png",)  # lossless outputs we can rewrite; the detector also reads JPEG/WebP copies
AUDIO_SUFFIXES = (".wav",)  # rewritten with the same subtype (16-bit PCM, float, ...)
_RUN_IDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def run_id(runtime: Any) -> str:
    """A random id for this run, shared by all its artefacts (its first 8 hex digits go in watermarks)."""
    if runtime not in _RUN_IDS:
        _RUN_IDS[runtime] = uuid.uuid4().hex
    return _RUN_IDS[runtime]


def mark_artifact(artifact: Any, runtime: Any, settings: Settings | None = None) -> dict[str, Any]:
    """Mark ``artifact`` in place and sign it; returns what was done, for the run's record."""
    settings = settings or run_settings(runtime)
    path, rid, generator = Path(artifact.path), run_id(runtime), _generator(artifact, runtime)
    done: dict[str, Any] = {"run_id": rid}
    claims: dict[str, Any] = {}
    if artifact.kind == "image" and path.suffix.lower() in IMAGE_SUFFIXES:
        done["watermark"] = mark_png(path, settings, int(rid[:8], 16)) if settings.watermark else "off (opted out)"
        done["c2pa"] = _embed_c2pa(path, settings, generator, rid)
    elif artifact.kind == "audio" and path.suffix.lower() in AUDIO_SUFFIXES:
        done["watermark"] = mark_audio(path, settings) if settings.watermark else "off (opted out)"
        done["c2pa"] = _embed_c2pa(path, settings, generator, rid)
    elif artifact.kind == "molecules":
        done["watermark"] = "none: no signal can hide in a SMILES string; the signed manifest is the provenance"
        if path.suffix.lower() == ".sdf":
            done["sdf_properties"] = tag_sdf(path, _summary(generator, rid))
    elif artifact.kind == "text" and artifact.metadata.get("watermarked"):
        claims["text_watermark"] = detection_claims(artifact.metadata, path.parent)
        done["watermark"] = "green-list (Kirchenbauer et al. 2023), applied while sampling"
    elif artifact.kind == "text":
        done["watermark"] = "off (opted out)" if not settings.watermark else "none: the generator applied none"
    else:
        done["watermark"] = f"none for {artifact.kind} {path.suffix or 'files'} yet; the signed manifest only"
    done["manifest"] = str(write_manifest(path, settings, run_id=rid, generator=generator, watermark=done["watermark"],
                                          **claims))
    return done


def _embed_c2pa(path: Path, settings: Settings, generator: dict[str, Any], rid: str) -> str:
    credentials = find_credentials(settings)
    if credentials is None:
        return "none: no signing certificate (run `gentoolkit provenance init`, or configure your own)"
    from gentoolkit_provenance.c2pa_manifest import embed_c2pa

    return embed_c2pa(path, credentials, generator, {"run_id": rid, "ai_generated": True})


def mark_png(path: Path, settings: Settings, payload: int) -> str:
    """Embed the image watermark in the PNG at ``path``; says what it did."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as image:
        image.load()
    if image.mode not in ("L", "RGB", "RGBA"):  # converting 16-bit or palette images would lose data
        return f"none: {image.mode} images are not watermarked (only 8-bit L, RGB, RGBA); the signed manifest only"
    pixels = np.asarray(image)
    if not watermark.capacity(*pixels.shape[:2]):
        return (f"none: {image.width}x{image.height} is too small for the watermark (it needs "
                f"{watermark.MIN_COPIES * watermark.MESSAGE_BITS} blocks of 8x8 pixels); the signed manifest only")
    Image.fromarray(watermark.embed(pixels, settings.key, payload), image.mode).save(path, format="PNG")
    return (f"dwt-dct qim, {watermark.SYNC_BITS} sync + {watermark.PAYLOAD_BITS} payload bits ({payload:08x}) "
            f"+ {watermark.CODE_BITS - watermark.PAYLOAD_BITS} Reed-Solomon parity bits")


def mark_audio(path: Path, settings: Settings) -> str:
    """Embed the audio watermark in the WAV at ``path`` (same rate, channels and sample format)."""
    import soundfile

    from gentoolkit_provenance import audiomark

    info = soundfile.info(str(path))
    waveform, rate = soundfile.read(str(path), dtype="float64")
    if audiomark.score(waveform, rate, settings.key) is None:
        return (f"none: {info.duration:.2f} s at {rate} Hz is too short or silent for the watermark; "
                "the signed manifest only")
    soundfile.write(str(path), audiomark.embed(waveform, rate, settings.key), rate, subtype=info.subtype)
    return f"stft spread spectrum, +-{audiomark.DELTA_DB} dB keyed ripple over 200-3800 Hz"


def tag_sdf(path: Path, summary: str) -> int:
    """Add ``AI_GENERATED`` and ``GENERATOR`` properties to every record of the SDF; returns how many."""
    text = path.read_text(encoding="utf-8")
    if ">  <AI_GENERATED>" in text:
        return 0
    tag = f">  <AI_GENERATED>\nyes\n\n>  <GENERATOR>\n{summary}\n\n$$$$"
    records = text.count("\n$$$$")
    path.write_text(text.replace("\n$$$$", "\n" + tag), encoding="utf-8")
    return records


def _generator(artifact: Any, runtime: Any) -> dict[str, Any]:
    plugin = runtime.toolkit.tasks.entry(artifact.task).plugin
    info = runtime.toolkit.host.plugins.get(plugin)
    return {"toolkit": "gentoolkit " + metadata.version("gentoolkit"), "plugin": plugin,
            "plugin_version": getattr(info, "version", "") or "", "task": artifact.task,
            "model": artifact.metadata.get("model"), "seed": artifact.metadata.get("seed")}


def _summary(gen: dict[str, Any], rid: str) -> str:
    model = (gen["model"] or {}).get("name") if isinstance(gen["model"], dict) else gen["model"]
    return f"AI-generated by gentoolkit {gen['plugin']} {gen['plugin_version']}, task {gen['task']}" + \
        (f", model {model}" if model else "") + f", run {rid}"
