from datetime import date

import sqlalchemy as sa

from tracker.activity import verify_all_chains
from tracker.audits.models import AuditDomainTally, AuditItem, ItemStatus
from tracker.extensions import db
from tracker.scale.service import generate


def status_rows():
    return db.session.execute(
        sa.select(AuditItem.code, AuditItem.status).order_by(AuditItem.audit_id, AuditItem.code)
    ).all()


def test_seed_scale_cli_builds_a_consistent_data_set(runner, library):
    result = runner.invoke(args=["seed", "scale", "--teams", "3", "--quarters", "2",
                                 "--items", "100"])
    assert result.exit_code == 0, result.output
    assert "6 audits, 600 items" in result.output
    # 81 library items topped up with synthetic ones to 100 per audit
    assert db.session.execute(sa.select(sa.func.count(AuditItem.id))).scalar() == 600
    chains, problems = verify_all_chains()
    assert problems == [] and chains >= 6
    # the planner has statistics for the new rows (refresh_statistics): what autovacuum
    # would gather later, or never where it is off
    if db.engine.dialect.name == "postgresql":
        analysed = db.session.execute(sa.text(
            "SELECT reltuples FROM pg_class WHERE relname = 'audit_items'")).scalar()
        assert analysed >= 600  # -1 until a table is first analysed
    else:
        assert db.session.execute(sa.text(
            "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'audit_items'")).scalar() > 0
    # the counters agree with a recount of the items
    recount = dict(((a, d, s), n) for a, d, s, n in db.session.execute(
        sa.select(AuditItem.audit_id, AuditItem.domain_id, AuditItem.status, sa.func.count())
        .group_by(AuditItem.audit_id, AuditItem.domain_id, AuditItem.status)))
    for tally in db.session.execute(sa.select(AuditDomainTally)).scalars():
        for status in ItemStatus:
            assert getattr(tally, status.value) == recount.get(
                (tally.audit_id, tally.domain_id, status), 0)


def test_seed_scale_is_deterministic(app, library):
    generate(teams=2, quarters=2, items=30, seed=7, today=date(2026, 11, 26))
    first = status_rows()
    db.session.rollback()
    generate(teams=2, quarters=2, items=30, seed=7, today=date(2026, 11, 26))
    assert status_rows() == first


def test_seed_scale_needs_the_library(runner, app):
    result = runner.invoke(args=["seed", "scale", "--teams", "1"])
    assert result.exit_code != 0 and "seed library" in result.output
