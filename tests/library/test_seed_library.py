import shutil
from pathlib import Path

import sqlalchemy as sa

from tracker.extensions import db
from tracker.library.models import Domain, FailurePattern, HubContent, ReadinessItem

SEEDS = Path(__file__).resolve().parents[2] / "seeds" / "library"


def counts():
    return tuple(db.session.execute(sa.select(sa.func.count()).select_from(m)).scalar()
                 for m in (Domain, FailurePattern, ReadinessItem, HubContent))


def test_seed_library_is_idempotent(runner, app):
    first = runner.invoke(args=["seed", "library"])
    assert first.exit_code == 0, first.output
    after_first = counts()
    second = runner.invoke(args=["seed", "library"])
    assert "0 changes" in second.output
    assert counts() == after_first


def test_library_content_meets_the_bar(library):
    domains = db.session.execute(sa.select(Domain)).scalars().all()
    assert len(domains) >= 8
    for d in domains:
        assert len([i for i in d.items if i.active]) >= 8, d.code
        assert len(d.failures) >= 3, d.code
        assert all(f.items for f in d.failures), f"{d.code}: a failure no item guards against"
    dv = db.session.execute(sa.select(Domain).where(Domain.code == "DV")).scalar_one()
    pillar = next(f for f in dv.failures if f.pillar)
    assert pillar.title == "Address validation failure"
    assert "bad data" in pillar.symptom
    titles = " ".join(c.title for c in dv.content)
    assert "Frontline teams spot issues before dashboards" in titles
    assert "Precision trumps speed in inventory ops" in titles


def test_edited_file_updates_by_code(runner, app, tmp_path):
    folder = tmp_path / "library"
    shutil.copytree(SEEDS, folder)
    runner.invoke(args=["seed", "library", "--path", str(folder)])
    dv = folder / "01_DV.yaml"
    text = dv.read_text()
    item = db.session.execute(sa.select(ReadinessItem).where(ReadinessItem.code == "DV-01")
                              ).scalar_one()
    dv.write_text(text.replace(item.title, "Addresses are validated at checkout", 1))
    result = runner.invoke(args=["seed", "library", "--path", str(folder)])
    assert "1 changes" in result.output and "1 updated" in result.output
    db.session.expire_all()
    assert db.session.get(ReadinessItem, item.id).title == "Addresses are validated at checkout"


def test_malformed_file_names_file_and_line_and_changes_nothing(runner, app, tmp_path):
    folder = tmp_path / "library"
    shutil.copytree(SEEDS, folder)
    runner.invoke(args=["seed", "library", "--path", str(folder)])
    before = counts()
    (folder / "02_INV.yaml").write_text((folder / "02_INV.yaml").read_text()
                                        .replace("criticality: critical", "criticality: urgent", 1))
    (folder / "99_NEW.yaml").write_text("code: NEW\nname: New\nitems: []\n")
    result = runner.invoke(args=["seed", "library", "--path", str(folder)])
    assert result.exit_code != 0
    assert "02_INV.yaml:" in result.output and "urgent" in result.output
    assert "Nothing was changed" in result.output
    assert counts() == before

    (folder / "02_INV.yaml").write_text("code: INV\nname: [unclosed\n")
    result = runner.invoke(args=["seed", "library", "--path", str(folder)])
    assert result.exit_code != 0
    assert "02_INV.yaml:" in result.output and "not valid YAML" in result.output
    assert counts() == before
