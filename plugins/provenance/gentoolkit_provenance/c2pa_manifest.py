"""C2PA manifests embedded in PNG, JPEG and WAV outputs with ``c2pa-python``, offline.

Each says ``c2pa.created`` with the ``trainedAlgorithmicMedia`` digital source type, names the
generator, and carries the run in an ``org.gentoolkit.provenance`` assertion. Reading maps the
SDK's verdict to ours: ``Trusted`` -> valid, ``Valid`` (intact, signer not in a trust list, as for
`provenance init`'s development CA) -> untrusted, ``Invalid`` -> tampered, none -> absent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from gentoolkit_provenance.credentials import Credentials
from gentoolkit_provenance.manifest import SOURCE_TYPE

__all__ = ["MIME_TYPES", "ASSERTION", "embed_c2pa", "read_c2pa", "check_signing"]

MIME_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".wav": "audio/wav"}
ASSERTION = "org.gentoolkit.provenance"
STATES = {"Trusted": "valid", "Valid": "untrusted", "Invalid": "tampered"}


def embed_c2pa(path: Path, credentials: Credentials, generator: dict[str, Any], claims: dict[str, Any]) -> str:
    """Sign a C2PA manifest into the image or WAV at ``path`` (rewritten atomically); returns its label."""
    import c2pa

    agent = f"gentoolkit {generator.get('plugin', '')} {generator.get('plugin_version', '')}".strip()
    manifest = {
        "claim_generator_info": [{"name": "gentoolkit", "version": generator.get("toolkit", "").split()[-1]}],
        "title": path.name, "format": MIME_TYPES[path.suffix.lower()],
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [
                {"action": "c2pa.created", "digitalSourceType": SOURCE_TYPE, "softwareAgent": {"name": agent}}]}},
            {"label": ASSERTION, "data": json.loads(json.dumps({**claims, "generator": generator}, default=str))},
        ],
    }
    partial = path.with_name(path.name + ".c2pa-partial")
    try:
        with open(path, "rb") as source, open(partial, "w+b") as dest:
            _sign(manifest, credentials, source, dest)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    with c2pa.Reader(str(path)) as reader:
        return json.loads(reader.json())["active_manifest"]


def check_signing(credentials: Credentials) -> None:
    """Sign a 8x8 PNG in memory, so a certificate the SDK refuses (a key that does not match it, a
    self-signed leaf, a wrong key usage) is reported before a run starts, not at its first image."""
    import io

    from gentoolkit.errors import ConfigError
    from PIL import Image

    import c2pa

    source, dest = io.BytesIO(), io.BytesIO()
    Image.new("L", (8, 8)).save(source, format="PNG")
    source.seek(0)
    manifest = {"title": "check.png", "format": "image/png", "assertions": [{"label": "c2pa.actions", "data": {
        "actions": [{"action": "c2pa.created", "digitalSourceType": SOURCE_TYPE}]}}]}
    try:
        _sign(manifest, credentials, source, dest)
    except c2pa.C2paError as err:
        raise ConfigError(f"The C2PA signing credentials {credentials.source} do not work: the C2PA SDK refused a "
                          f"test signature ({err}). Mint new ones with `gentoolkit provenance init --force`, or fix "
                          "certificate and private_key in [provenance].") from None


def _sign(manifest: dict[str, Any], credentials: Credentials, source: Any, dest: Any) -> None:
    import c2pa

    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, credentials.chain,
                                                       credentials.private_key, None))
    try:
        with c2pa.Builder(json.dumps(manifest)) as builder:
            builder.sign(signer, manifest["format"], source, dest)
    finally:
        signer.close()


def read_c2pa(path: Path) -> dict[str, Any]:
    """``{"state": valid|untrusted|tampered|absent, "reason": ..., "claims": ...}`` for an image or WAV."""
    import c2pa

    try:
        reader = c2pa.Reader.try_create(str(path))
    except c2pa.C2paError as err:
        return {"state": "tampered", "reason": f"unreadable C2PA data: {err}"}
    if reader is None:
        return {"state": "absent", "reason": "no C2PA manifest in the file"}
    with reader:
        store = json.loads(reader.json())
        sdk_state = reader.get_validation_state()
    active = store.get("manifests", {}).get(store.get("active_manifest"), {})
    assertions = {a["label"]: a.get("data") for a in active.get("assertions", [])}
    actions = (assertions.get("c2pa.actions") or assertions.get("c2pa.actions.v2") or {}).get("actions", [])
    failures = [s.get("explanation") or s.get("code") for s in store.get("validation_status") or []
                if s.get("code") != "signingCredential.untrusted"]
    state = STATES.get(sdk_state, "tampered")
    reason = {"valid": "intact, signed by a trusted certificate",
              "untrusted": "intact, but the signing certificate is not in any trust list (a development CA?)",
              "tampered": "; ".join(failures) or f"validation state {sdk_state}"}[state]
    return {"state": state, "reason": reason, "signer": active.get("signature_info", {}).get("common_name"),
            "actions": [{k: a.get(k) for k in ("action", "digitalSourceType")} for a in actions],
            "claims": assertions.get(ASSERTION)}
