"""C2PA signing credentials: ``gentoolkit provenance init`` mints a throwaway development root CA and
an end-entity signing certificate (the C2PA SDK refuses a self-signed leaf) with ``cryptography``.

Nobody trusts that root, so readers report its manifests as "untrusted" (signature and content
intact, signer unknown), never "trusted". A user with a real certificate sets ``certificate`` and
``private_key`` in the ``[provenance]`` table of the user config instead.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from gentoolkit.errors import ConfigError

from gentoolkit_provenance.settings import Settings, config_dir, from_table

__all__ = ["Credentials", "mint_credentials", "find_credentials", "check_setup"]

CHAIN, KEY, ROOT = "signer-chain.pem", "signer-key.pem", "dev-root-ca.pem"


@dataclass(frozen=True)
class Credentials:
    chain: bytes  # PEM: the signing certificate, then its issuers
    private_key: bytes  # PEM, PKCS#8
    source: str  # where they came from, for messages


def mint_credentials(folder: Path | None = None, force: bool = False, days: int = 365) -> Path:
    """Write a development root CA, a signing certificate it issued, and the signing key to
    ``folder`` (default: the user config folder's ``c2pa/``); returns the folder."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder = Path(folder or config_dir() / "c2pa")
    if (folder / KEY).exists() and not force:
        raise ConfigError(f"C2PA credentials already exist in {folder}; pass --force to replace them.")
    now = dt.datetime.now(dt.timezone.utc)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "gentoolkit development (untrusted)")])

    def usage(sign: bool) -> x509.KeyUsage:
        return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=False,
                             data_encipherment=False, key_agreement=False, key_cert_sign=not sign,
                             crl_sign=not sign, encipher_only=False, decipher_only=False)

    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    start = now - dt.timedelta(minutes=5)
    root = (x509.CertificateBuilder().subject_name(name("gentoolkit dev root CA")).issuer_name(name("gentoolkit dev root CA"))
            .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(now + dt.timedelta(days=days + 1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(usage(sign=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(name("gentoolkit dev signer")).issuer_name(root.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage(sign=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ROOT).write_bytes(root.public_bytes(pem))
    (folder / CHAIN).write_bytes(leaf.public_bytes(pem) + root.public_bytes(pem))
    descriptor = os.open(folder / KEY, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as f:
        f.write(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return folder


def find_credentials(settings: Settings) -> Credentials | None:
    """The configured signing credentials, the minted ones, or None (C2PA signing is then skipped).
    A configured file that is missing, or an expired certificate, is an error."""
    from cryptography import x509

    if settings.certificate or settings.private_key:
        if not (settings.certificate and settings.private_key):
            raise ConfigError("[provenance] needs both certificate and private_key (PEM files), or neither.")
        chain_path, key_path = Path(settings.certificate), Path(settings.private_key)
        for path in (chain_path, key_path):
            if not path.is_file():
                raise ConfigError(f"The C2PA {path.name} configured in [provenance] does not exist: {path}. "
                                  "Fix the path, or remove certificate/private_key to use `gentoolkit provenance init`'s.")
    else:
        chain_path, key_path = config_dir() / "c2pa" / CHAIN, config_dir() / "c2pa" / KEY
        if not key_path.is_file():
            return None
    chain = chain_path.read_bytes()
    try:
        leaf = x509.load_pem_x509_certificates(chain)[0]
    except ValueError as err:
        raise ConfigError(f"The C2PA certificate chain {chain_path} is not a PEM certificate ({err}). Point "
                          "[provenance] certificate at a PEM chain, or mint one with `gentoolkit provenance init --force`.") from None
    expires = leaf.not_valid_after_utc
    if expires <= dt.datetime.now(dt.timezone.utc):
        raise ConfigError(f"The C2PA signing certificate {chain_path} expired on {expires:%Y-%m-%d}. Mint a new one "
                          "with `gentoolkit provenance init --force`, or point [provenance] certificate at a valid one.")
    return Credentials(chain, key_path.read_bytes(), str(chain_path))


def check_setup(table: dict) -> None:
    """What the core calls before a run starts (``Settings.check``): the run's ``[provenance]`` table
    names a usable key, and its C2PA credentials, when there are any, exist, are in date and sign."""
    credentials = find_credentials(from_table(table))
    if credentials is not None:
        from gentoolkit_provenance.c2pa_manifest import check_signing

        check_signing(credentials)
