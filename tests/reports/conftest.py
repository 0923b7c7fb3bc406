"""Report fixtures: a real audit worked, reviewed and signed off through the services, and
helpers around poppler's command-line tools (the independent validators)."""

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests import factories
from tests.seeded import seed
from tracker.audits import service as audits
from tracker.audits.models import Audit, AuditItem, ItemStatus, Verdict
from tracker.extensions import db
from tracker.library.models import Domain
from tracker.reports import service as reports
from tracker.reports.models import SignOff

STATEMENT = "Reviewed the evidence with the team; the open items move to next quarter."
STATUS_CYCLE = [ItemStatus.MET, ItemStatus.NOT_MET, ItemStatus.MET, ItemStatus.NOT_APPLICABLE,
                ItemStatus.MET, ItemStatus.NOT_MET, ItemStatus.MET]


def poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        message = (f"{tool} (poppler-utils) is not installed: `apt-get install poppler-utils`; "
                   ".ci/run installs it.")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def run(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=False, timeout=120).stdout


def pdfsig_verdict(path: Path) -> str:
    """pdfsig's "Signature Validation:" line. Its exit code is 0 even on a digest mismatch,
    so the output is what counts."""
    out = run(poppler("pdfsig"), "-nocert", str(path))
    lines = [line for line in out.splitlines() if "Signature Validation:" in line]
    assert len(lines) == 1, out
    return lines[0].split(":", 1)[1].strip() + ("" if "Total document signed" in out else
                                                 " (not total document signed)")


def page_texts(path: Path) -> list[str]:
    return run(poppler("pdftotext"), "-layout", str(path), "-").split("\f")[:-1]


def work_audit(people, domain_codes=("DV", "SUP"), period="2026-Q3", *, previous=None,
               statuses=STATUS_CYCLE, verdict_note=None, comment=None, evidence_note=None):
    """Start (or follow) an audit of team Alpha, give every item a status (evidence where
    met), and submit it. Returns the audit, in review."""
    lead, operator = people["lead"], people["operator"]
    if previous is not None:
        audit = audits.start_next_quarter(lead, previous)
    else:
        domains = db.session.execute(
            sa.select(Domain).where(Domain.code.in_(domain_codes))).scalars().all()
        audit = audits.start_audit(lead, people["alpha"], period, domains)
    items = db.session.execute(sa.select(AuditItem).where(AuditItem.audit_id == audit.id)
                               .order_by(AuditItem.code)).scalars().all()
    for n, item in enumerate(items):
        status = statuses[n % len(statuses)]
        if status == ItemStatus.MET:
            if n % 3 == 0:
                audits.add_evidence(operator, item, upload=io.BytesIO(f"export {n}\n".encode()),
                                    filename=f"{item.code.lower()}.txt")
            else:
                audits.add_evidence(operator, item, note=evidence_note or f"Checked {item.code}.")
        audits.update_item(operator, item, expected_version=None, status=status, owner=operator,
                           justification="Handled by the 3PL." if
                           status == ItemStatus.NOT_APPLICABLE else audits.UNSET)
        if comment and n == 0:
            audits.add_comment(operator, item, comment)
    factories.submit(lead, audit)
    for n, item in enumerate(items[:4]):
        audits.review_item(people["auditor"], item, Verdict.ACCEPTED if n % 2 else
                           Verdict.NEEDS_REWORK, verdict_note or f"Note on {item.code}.")
    db.session.flush()
    return audit


def _load_signed(keys):
    audit_id, signoff_id = keys
    signoff = db.session.get(SignOff, signoff_id)
    return db.session.get(Audit, audit_id), signoff, reports.report_path(signoff)


@seed(needs=["library", "people"], load=_load_signed)
def signed():
    """Alpha's 2026-Q3 audit (DV and SUP), signed off: (audit, signoff, path of the PDF)."""
    people = factories.load_people()
    audit = work_audit(people)
    signoff = factories.sign_off(people["auditor"], audit, STATEMENT)
    db.session.commit()
    assert signoff.report_status.value == "ready", signoff.report_error
    return audit.id, signoff.id


@pytest.fixture
def copy_of(tmp_path):
    def make(path: Path, name: str) -> Path:
        target = tmp_path / name
        target.write_bytes(path.read_bytes())
        return target
    return make
