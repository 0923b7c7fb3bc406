"""`flask --app app keys init`, first-use keys and a configured PKCS#12."""

import stat
from pathlib import Path

import pytest

from tests import factories


def test_keys_init_creates_once_with_private_modes(app, runner):
    key, cert = Path(app.config["SIGNING_KEY_PATH"]), Path(app.config["SIGNING_CERT_PATH"])
    assert not key.exists()
    result = runner.invoke(args=["keys", "init"])
    assert result.exit_code == 0 and "Created a signing key" in result.output
    for path in (key, cert):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in key.read_bytes() and b"CERTIFICATE" in cert.read_bytes()
    before = key.read_bytes()
    again = runner.invoke(args=["keys", "init"])
    assert again.exit_code == 0 and "already exists" in again.output
    assert key.read_bytes() == before


def test_keys_init_refuses_half_a_key(app, runner):
    key = Path(app.config["SIGNING_KEY_PATH"])
    key.parent.mkdir(parents=True)
    key.write_text("x")
    result = runner.invoke(args=["keys", "init"])
    assert result.exit_code != 0 and "Restore the missing file" in result.output
    assert key.read_text() == "x"


@pytest.fixture
def pkcs12(tmp_path):
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Acme Audit Signing")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False,
                                         False), critical=True)
            .sign(key, hashes.SHA256()))
    path = tmp_path / "acme.p12"
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        b"acme", key, cert, None, BestAvailableEncryption(b"s3cret")))
    return path


def test_a_configured_pkcs12_signs_and_verifies(app, library, people, runner, pkcs12):
    from tests.reports.conftest import work_audit
    from tracker.extensions import db
    from tracker.reports import service as reports

    app.config.update(SIGNING_PKCS12_PATH=str(pkcs12), SIGNING_PKCS12_PASSWORD="s3cret")
    audit = work_audit(people, domain_codes=("SUP",))
    signoff = factories.sign_off(people["auditor"], audit, "Done.")
    db.session.commit()
    assert signoff.report_status.value == "ready", signoff.report_error
    assert not Path(app.config["SIGNING_KEY_PATH"]).exists()  # nothing made here
    result = runner.invoke(args=["report", "verify", str(reports.report_path(signoff))])
    assert result.exit_code == 0, result.output
    assert "Acme Audit Signing" in result.output
    init = runner.invoke(args=["keys", "init"])
    assert init.exit_code == 0 and "PKCS#12" in init.output


def test_a_report_signed_elsewhere_needs_a_trust_root(app, library, people, runner, pkcs12,
                                                      tmp_path):
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.hazmat.primitives.serialization import pkcs12 as p12

    from tests.reports.conftest import work_audit
    from tracker.extensions import db
    from tracker.reports import service as reports

    app.config.update(SIGNING_PKCS12_PATH=str(pkcs12), SIGNING_PKCS12_PASSWORD="s3cret")
    audit = work_audit(people, domain_codes=("SUP",))
    signoff = factories.sign_off(people["auditor"], audit, "Done.")
    db.session.commit()
    path = str(reports.report_path(signoff))

    app.config.update(SIGNING_PKCS12_PATH=None)  # this installation now has its own key
    assert runner.invoke(args=["keys", "init"]).exit_code == 0
    result = runner.invoke(args=["report", "verify", path])
    assert result.exit_code == 1
    assert "[FAIL] Certificate ours or trusted" in result.output
    assert "Acme Audit Signing" in result.output

    _, cert, _ = p12.load_key_and_certificates(pkcs12.read_bytes(), b"s3cret")
    roots = tmp_path / "roots.pem"
    roots.write_bytes(cert.public_bytes(Encoding.PEM))
    app.config["SIGNING_TRUST_ROOTS"] = str(roots)
    result = runner.invoke(args=["report", "verify", path])
    assert result.exit_code == 0, result.output
    assert "chains to a configured trust root" in result.output
    assert "[SKIP] Matches the stored audit: Signed elsewhere" in result.output
