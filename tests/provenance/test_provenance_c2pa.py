"""C2PA: `provenance init` mints a CA chain offline; embedded manifests read back untrusted, never
trusted; changed pixels read as tampered; expired or missing certificates are clear errors."""

import datetime as dt
import os
import stat
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from gentoolkit.errors import ConfigError
from gentoolkit_provenance.c2pa_manifest import embed_c2pa, read_c2pa
from gentoolkit_provenance.credentials import check_setup, find_credentials, mint_credentials
from gentoolkit_provenance.manifest import SOURCE_TYPE
from gentoolkit_provenance.settings import load_settings

GENERATOR = {"toolkit": "gentoolkit 0.1.0", "plugin": "image", "plugin_version": "0.1.0", "task": "image"}


def _signed_png(path):
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 96), dtype=np.uint8)).save(path)
    embed_c2pa(path, find_credentials(load_settings()), GENERATOR, {"run_id": "r1"})
    return path


def test_init_mints_a_chain_and_refuses_to_overwrite(user_config):
    done = subprocess.run([sys.executable, "-m", "gentoolkit", "provenance", "init"], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "300"}, timeout=120)
    assert done.returncode == 0, done.stderr
    folder = user_config / "c2pa"
    assert {p.name for p in folder.iterdir()} == {"dev-root-ca.pem", "signer-chain.pem", "signer-key.pem"}
    assert stat.S_IMODE((folder / "signer-key.pem").stat().st_mode) == 0o600
    again = subprocess.run([sys.executable, "-m", "gentoolkit", "provenance", "init"], capture_output=True, text=True,
                           env={**os.environ, "COLUMNS": "300"}, timeout=120)
    assert again.returncode == 2 and "--force" in again.stderr


def test_an_embedded_manifest_reads_untrusted_with_what_made_it(tmp_path):
    mint_credentials()
    report = read_c2pa(_signed_png(tmp_path / "a.png"))
    assert report["state"] == "untrusted" and report["signer"] == "gentoolkit dev signer"
    assert report["actions"] == [{"action": "c2pa.created", "digitalSourceType": SOURCE_TYPE}]
    assert report["claims"]["run_id"] == "r1" and report["claims"]["generator"]["plugin"] == "image"


def test_changed_pixels_break_the_c2pa_hash(tmp_path):
    mint_credentials()
    path = _signed_png(tmp_path / "a.png")
    data = bytearray(path.read_bytes())
    data[data.index(b"IDAT") + 20] ^= 0xFF
    path.write_bytes(bytes(data))
    report = read_c2pa(path)
    assert report["state"] == "tampered" and "Hashes do not match" in report["reason"]


def test_no_manifest_is_absent_and_no_credentials_skip_signing(tmp_path):
    path = tmp_path / "plain.png"
    Image.fromarray(np.zeros((32, 32), dtype=np.uint8)).save(path)
    assert read_c2pa(path)["state"] == "absent"
    assert find_credentials(load_settings()) is None


def test_expired_or_missing_certificates_are_clear_errors(tmp_path, user_config):
    folder = mint_credentials(tmp_path / "short", days=0)  # expires the moment it is minted
    (user_config / "config.toml").write_text(f'[provenance]\ncertificate = "{folder / "signer-chain.pem"}"\n'
                                             f'private_key = "{folder / "signer-key.pem"}"\n')
    with pytest.raises(ConfigError, match=f"expired on {dt.datetime.now(dt.timezone.utc):%Y-%m-%d}.*provenance init --force"):
        find_credentials(load_settings())
    (user_config / "config.toml").write_text(f'[provenance]\ncertificate = "{tmp_path / "nope.pem"}"\n'
                                             f'private_key = "{folder / "signer-key.pem"}"\n')
    with pytest.raises(ConfigError, match="nope.pem.*does not exist"):
        find_credentials(load_settings())


def test_the_setup_check_signs_once_so_a_key_that_does_not_match_its_certificate_fails_early(tmp_path):
    one, other = mint_credentials(tmp_path / "one"), mint_credentials(tmp_path / "other")
    table = {"key": "k", "watermark": True, "certificate": str(one / "signer-chain.pem"),
             "private_key": str(one / "signer-key.pem")}
    check_setup(table)  # a working pair passes
    with pytest.raises(ConfigError, match="do not work: the C2PA SDK refused a test signature"):
        check_setup({**table, "private_key": str(other / "signer-key.pem")})
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match="junk.pem is not a PEM certificate"):
        check_setup({**table, "certificate": str(tmp_path / "junk.pem")})
