"""The per-domain tallies the services keep must always equal a recount of the items."""

import io
import random

import pytest
import sqlalchemy as sa

from tests import factories
from tests.audits.conftest import PNG, domains
from tracker.audits import service
from tracker.audits.models import Audit, AuditDomainTally, AuditItem, ItemStatus
from tracker.audits.vocabulary import WEIGHTS as CRITICALITY_WEIGHTS
from tracker.extensions import db
from tracker.rules import Refusal


def recount(audit_id: int) -> dict:
    """Counts straight from the items, computed here independently of the services."""
    counts = {}
    for domain_id, status, criticality in db.session.execute(
        sa.select(AuditItem.domain_id, AuditItem.status, AuditItem.criticality)
        .where(AuditItem.audit_id == audit_id)
    ):
        row = counts.setdefault(domain_id, {**{s.value: 0 for s in ItemStatus},
                                            "weight_met": 0, "weight_applicable": 0})
        row[status.value] += 1
        weight = CRITICALITY_WEIGHTS[criticality]
        if status == ItemStatus.MET:
            row["weight_met"] += weight
        if status != ItemStatus.NOT_APPLICABLE:
            row["weight_applicable"] += weight
    return counts


def tallies(audit_id: int) -> dict:
    keys = [*(s.value for s in ItemStatus), "weight_met", "weight_applicable"]
    return {t.domain_id: {k: getattr(t, k) for k in keys}
            for t in db.session.execute(sa.select(AuditDomainTally).where(
                AuditDomainTally.audit_id == audit_id)).scalars()
            if t.total or t.domain_id in recount(audit_id)}


def assert_tallies_match(audit_ids):
    db.session.expire_all()
    for audit_id in audit_ids:
        assert tallies(audit_id) == recount(audit_id), f"audit {audit_id} drifted"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tallies_equal_a_recount_after_any_sequence_of_operations(seed, people, make_audit):
    rng = random.Random(seed)
    first = make_audit(codes=("DV", "INV", "PAY"), state="in_progress", period="2026-Q3")
    audit_ids = [first.id]
    members = [people["lead"], people["operator"]]
    refused = 0
    for _step in range(60):
        audit = db.session.get(Audit, rng.choice(audit_ids))
        # Ordered: PostgreSQL's heap order moves with updates, so rng.choice would vary.
        items = db.session.execute(sa.select(AuditItem).where(
            AuditItem.audit_id == audit.id).order_by(AuditItem.id)).scalars().all()
        item = rng.choice(items)
        actor = rng.choice(members)
        operation = rng.choice(["status", "status", "status", "bulk", "evidence", "owner",
                                "next", "submit", "return"])
        try:
            if operation == "status":
                status = rng.choice(list(ItemStatus))
                justification = rng.choice([None, "Not ours: the 3PL runs it."])
                service.update_item(actor, item, expected_version=rng.choice(
                    [item.version, item.version, item.version - 1]), status=status,
                    justification=justification)
            elif operation == "bulk":
                chosen = rng.sample([i.id for i in items], k=rng.randint(1, 6))
                service.bulk_update(actor, audit, chosen,
                                    status=rng.choice(list(ItemStatus)),
                                    justification="Out of scope this quarter.")
            elif operation == "evidence":
                if rng.random() < 0.5:
                    service.add_evidence(actor, item, upload=io.BytesIO(PNG),
                                         filename="proof.png")
                else:
                    service.add_evidence(actor, item, note="Checked a sample of 20.")
            elif operation == "owner":
                service.update_item(actor, item, expected_version=item.version,
                                    owner=rng.choice(members + [None]))
            elif operation == "next":
                new = service.start_next_quarter(people["lead"], audit, domains=rng.sample(
                    domains("DV", "INV", "PAY", "FUL"), k=rng.randint(1, 3)))
                audit_ids.append(new.id)
            elif operation == "submit":
                factories.submit(people["lead"], audit)
            else:
                service.return_audit(people["auditor"], audit, "Attach the drill notes.")
        except Refusal:
            db.session.rollback()  # as every view does: a refusal changes nothing
            refused += 1
        else:
            db.session.commit()
        assert_tallies_match(audit_ids)
    assert refused and len(audit_ids) > 1  # the sequence exercised refusals and new audits
    # And the services' increments agree with a full rebuild.
    for audit_id in audit_ids:
        before = tallies(audit_id)
        service.recount_tallies(db.session.get(Audit, audit_id))
        assert tallies(audit_id) == before
