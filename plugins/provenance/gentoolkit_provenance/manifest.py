"""Signed sidecar manifests: ``FILE.provenance.json`` says what made FILE, and an HMAC proves it.

Every generated file gets one, whatever its type: it is the only provenance a SMILES string can
carry (no signal hides in a molecule), and for images it travels beside the watermark. It records
the C2PA vocabulary (``c2pa.created``, ``trainedAlgorithmicMedia``) without being a C2PA manifest.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gentoolkit_provenance.settings import Settings

__all__ = ["FORMAT", "SUFFIX", "SOURCE_TYPE", "sidecar", "write_manifest", "verify_manifest"]

FORMAT = "gentoolkit-provenance/1"
SUFFIX = ".provenance.json"
SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def sidecar(path: Path) -> Path:
    return path.with_name(path.name + SUFFIX)


def write_manifest(path: Path, settings: Settings, **claims: Any) -> Path:
    """Sign ``path``'s bytes and ``claims`` (generator, run, watermark, ...) into its sidecar."""
    body = {"format": FORMAT, "file": path.name, "sha256": _sha256(path), "ai_generated": True,
            "action": "c2pa.created", "digital_source_type": SOURCE_TYPE,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), **claims,
            "key_id": settings.key_id}
    body["signature"] = _sign(body, settings.key)
    out = sidecar(path)
    out.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")
    return out


def verify_manifest(path: Path, settings: Settings) -> dict[str, Any]:
    """``{"state": valid|untrusted|tampered|absent, "reason": ..., "manifest": ...}`` for ``path``."""
    try:
        body = json.loads(sidecar(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"state": "absent", "reason": f"no {sidecar(path).name} beside it"}
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {"state": "tampered", "reason": f"{sidecar(path).name} is not valid JSON"}
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        return {"state": "tampered", "reason": f"{sidecar(path).name} is not a {FORMAT} manifest"}
    claims = {k: v for k, v in body.items() if k != "signature"}
    if body.get("key_id") != settings.key_id:
        return {"state": "untrusted", "manifest": claims,
                "reason": "signed with a key this detector does not hold (set GENTOOLKIT_PROVENANCE_KEY)"}
    if not hmac.compare_digest(str(body.get("signature")), _sign(claims, settings.key)):
        return {"state": "tampered", "manifest": claims, "reason": "the manifest was edited after signing"}
    if body.get("sha256") != _sha256(path):
        return {"state": "tampered", "manifest": claims, "reason": "the file's bytes changed after signing"}
    if settings.default_key:
        return {"state": "untrusted", "manifest": claims,
                "reason": "intact, but signed with the public default key, which anyone can use"}
    return {"state": "valid", "manifest": claims, "reason": "intact and signed with your key"}


def _sign(body: dict[str, Any], key: bytes) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
