"""The organisation's signing identity: a key and certificate in the instance folder, made on
first use, or an existing PKCS#12 named by SIGNING_PKCS12_PATH (+ SIGNING_PKCS12_PASSWORD).

Made here: an RSA-3072 key (PEM, PKCS#8, mode 0600) and a self-signed certificate for
"<ORGANISATION_NAME> report signing", valid ten years, key usage digitalSignature +
nonRepudiation. Reports are verified against that certificate (or any configured trust root),
so keep the folder: a new key cannot verify older reports as "ours".
"""

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from flask import current_app


class SigningKeyError(RuntimeError):
    """The signing identity is missing or unusable; the message says what to do."""


@dataclass
class KeyInitResult:
    created: bool
    key_path: Path | None
    cert_path: Path | None
    source: str  # "pem" or "pkcs12"


def _paths() -> tuple[Path, Path]:
    cfg = current_app.config
    return Path(cfg["SIGNING_KEY_PATH"]), Path(cfg["SIGNING_CERT_PATH"])


def uses_pkcs12() -> bool:
    return bool(current_app.config.get("SIGNING_PKCS12_PATH"))


def ensure_signing_key() -> KeyInitResult:
    """Create the key and self-signed certificate when none exists; never overwrite one."""
    if uses_pkcs12():
        path = Path(current_app.config["SIGNING_PKCS12_PATH"])
        if not path.is_file():
            raise SigningKeyError(f"SIGNING_PKCS12_PATH points to {path}, which does not exist. "
                                  "Fix the path, or unset it to use a key made here.")
        return KeyInitResult(False, None, None, "pkcs12")
    key_path, cert_path = _paths()
    if key_path.exists() and cert_path.exists():
        return KeyInitResult(False, key_path, cert_path, "pem")
    if key_path.exists() != cert_path.exists():
        present, missing = (key_path, cert_path) if key_path.exists() else (cert_path, key_path)
        raise SigningKeyError(f"{present} exists but {missing} does not. Restore the missing "
                              "file from a backup; a new key would make older reports "
                              "unverifiable as ours.")
    _create_identity(key_path, cert_path, current_app.config["ORGANISATION_NAME"])
    return KeyInitResult(True, key_path, cert_path, "pem")


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)  # whatever the umask


def _create_identity(key_path: Path, cert_path: Path, organisation: str) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, f"{organisation} report signing"[:64]),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation[:64]),
    ])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=True, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    try:
        _write_private(key_path, key_pem)
    except FileExistsError:  # another process made one at the same moment: keep theirs
        return
    _write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))


_signers: dict[tuple, object] = {}


def load_signer():
    """A pyHanko signer for the organisation's key, creating the key on first use. Loading
    an RSA key is slow (its consistency checks take ~0.3 s), so each process keeps the
    signer until the key file changes."""
    ensure_signing_key()
    files = ([current_app.config["SIGNING_PKCS12_PATH"]] if uses_pkcs12()
             else [str(p) for p in _paths()])
    cache_key = tuple((f, os.stat(f).st_mtime_ns) for f in files) + (
        current_app.config.get("SIGNING_PKCS12_PASSWORD"),)
    if cache_key not in _signers:
        _signers.clear()
        _signers[cache_key] = _load_signer()
    return _signers[cache_key]


def _load_signer():
    from pyhanko.sign import signers

    if uses_pkcs12():
        password = current_app.config.get("SIGNING_PKCS12_PASSWORD")
        signer = signers.SimpleSigner.load_pkcs12(
            current_app.config["SIGNING_PKCS12_PATH"],
            passphrase=password.encode() if password else None)
        if signer is None:
            raise SigningKeyError("The PKCS#12 file could not be opened: check "
                                  "SIGNING_PKCS12_PASSWORD.")
        return signer
    key_path, cert_path = _paths()
    signer = signers.SimpleSigner.load(str(key_path), str(cert_path))
    if signer is None:
        raise SigningKeyError(f"The signing key {key_path} or certificate {cert_path} could not "
                              "be read. Restore them, or configure SIGNING_PKCS12_PATH.")
    return signer


def our_certificate():
    """The organisation's signing certificate (asn1crypto), or None when there is none yet."""
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509

    if uses_pkcs12():
        try:
            return load_signer().signing_cert
        except SigningKeyError:
            return None
    _, cert_path = _paths()
    if not cert_path.is_file():
        return None
    data = cert_path.read_bytes()
    if pem.detect(data):
        _, _, data = pem.unarmor(data)
    return asn1_x509.Certificate.load(data)


def trusted_roots() -> list:
    """Extra trust anchors from SIGNING_TRUST_ROOTS (a PEM bundle), for reports signed by
    another installation or by an earlier key of ours."""
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509

    bundle = current_app.config.get("SIGNING_TRUST_ROOTS") or os.environ.get(
        "SIGNING_TRUST_ROOTS")
    if not bundle or not Path(bundle).is_file():
        return []
    return [asn1_x509.Certificate.load(der)
            for _, _, der in pem.unarmor(Path(bundle).read_bytes(), multiple=True)]


# --- the published certificate, and signatures over plain bytes (activity checkpoints) ----

def certificate_pem(cert) -> str:
    from asn1crypto import pem

    return pem.armor("CERTIFICATE", cert.dump()).decode("ascii")


def fingerprint(cert) -> str:
    """SHA-256 of the certificate's DER, as `openssl x509 -fingerprint -sha256` prints it."""
    return ":".join(f"{b:02X}" for b in cert.sha256)


_raw_keys: dict[int, tuple[object, object]] = {}

RSA_SHA256, ECDSA_SHA256 = "RSA-PKCS1v15-SHA256", "ECDSA-SHA256"


def sign_bytes(data: bytes) -> tuple[str, bytes, object]:
    """Sign `data` with the organisation's key: (algorithm, signature, certificate). What
    `openssl dgst -sha256 -verify` checks, given the certificate's public key."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    signer = load_signer()
    cached = _raw_keys.get(id(signer))
    if cached is None or cached[0] is not signer:
        _raw_keys.clear()
        # The key file is ours and pyHanko has loaded it already: skip the slow RSA checks.
        key = serialization.load_der_private_key(signer.signing_key.dump(), None,
                                                 unsafe_skip_rsa_key_validation=True)
        cached = _raw_keys[id(signer)] = (signer, key)
    key = cached[1]
    if isinstance(key, rsa.RSAPrivateKey):
        return RSA_SHA256, key.sign(data, padding.PKCS1v15(), hashes.SHA256()), \
            signer.signing_cert
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return ECDSA_SHA256, key.sign(data, ec.ECDSA(hashes.SHA256())), signer.signing_cert
    raise SigningKeyError(f"Cannot sign checkpoints with a {type(key).__name__}: use an RSA "
                          "or EC signing key.")


def verify_bytes(cert_pem: str, algorithm: str, data: bytes, signature: bytes) -> bool:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    public = x509.load_pem_x509_certificate(cert_pem.encode("ascii")).public_key()
    try:
        if algorithm == RSA_SHA256 and isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif algorithm == ECDSA_SHA256 and isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        else:
            return False
    except InvalidSignature:
        return False
    return True
