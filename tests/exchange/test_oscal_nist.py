"""NIST's own catalogs (SP 800-53 rev5 5.0.1 and the rev5.1.1 LOW baseline, trimmed to two
families: fixtures/nist/trim.py), imported side by side, and every OSCAL export validated
against NIST's 1.1.2 and 1.2.1 schemas."""

import json

import pytest
import sqlalchemy as sa

from tests.exchange.conftest import assert_valid_oscal, library_counts, nist
from tracker.exchange import oscal
from tracker.extensions import db
from tracker.library.models import Domain, LibrarySource, ReadinessItem, SourceKind
from tracker.library.seeding import LibraryFileError

REV5 = "rev5_catalog_5.0.1.json"
LOW = "rev5_LOW_resolved.json"


def load(name: str, data: bytes | None = None, **kwargs):
    result = oscal.import_catalog(None, oscal.parse_catalog(name, data or nist(name), **kwargs),
                                  name)
    db.session.commit()
    return result


def items(code: str) -> list[ReadinessItem]:
    return db.session.execute(sa.select(ReadinessItem).join(ReadinessItem.source)
                              .where(ReadinessItem.code == code)
                              .order_by(LibrarySource.key)).scalars().all()


def source_of(title_start: str) -> LibrarySource:
    return db.session.execute(sa.select(LibrarySource)
                              .where(LibrarySource.title.startswith(title_start))).scalar_one()


def snapshot(source: LibrarySource) -> dict:
    rows = db.session.execute(
        sa.select(ReadinessItem.code, ReadinessItem.title, ReadinessItem.guidance,
                  ReadinessItem.active, Domain.code)
        .join(ReadinessItem.domain).where(ReadinessItem.source_id == source.id)).all()
    return {r[0]: tuple(r[1:]) for r in rows}


def test_rev5_and_low_import_side_by_side(library):
    seeded = library_counts()
    first = load(REV5)
    rev5 = source_of("NIST Special Publication 800-53 Revision 5:")
    assert rev5.kind == SourceKind.CATALOG
    before = snapshot(rev5)
    assert first.updated == first.deactivated == 0
    second = load(LOW)
    low = source_of("NIST Special Publication 800-53 Revision 5.1.1 LOW")
    # The LOW baseline adds its own items and domains; it takes over nothing of rev5's.
    assert second.updated == second.deactivated == 0
    assert second.created == 2 + len(snapshot(low))
    assert snapshot(rev5) == before
    assert {i.source.key for i in items("AC-1")} == {rev5.key, low.key}
    assert items("AC-01") == []  # the zero-padded sp800-53a label is not the code
    assert {d.source_id for d in db.session.execute(
        sa.select(Domain).where(Domain.code == "AC")).scalars()} == {rev5.id, low.id}
    # Both catalogs were added beside the seed library, which is untouched.
    assert library_counts()[2] == seeded[2] + len(before) + len(snapshot(low))
    assert load(REV5).changes == 0 and load(LOW).changes == 0


def test_selection_parameters_and_statement_parts_are_readable(library):
    load(REV5)
    ac1 = items("AC-1")[0]
    assert "[Assignment: ac-1_prm" not in ac1.guidance
    lines = ac1.guidance.splitlines()
    assert lines[0] == ("- a. Develop, document, and disseminate to [Assignment: "
                        "organization-defined personnel or roles]:")
    assert lines[1] == ("    - 1\\. [Selection (one or more): Organization-level; "
                        "Mission/business process-level; System-level] access control policy "
                        "that:")
    assert lines[2].startswith("        - (a) Addresses purpose, scope, roles")
    # A choice that is itself a parameter is filled in too.
    ac4_4 = items("AC-4(4)")[0]
    assert ("[Selection (one or more): decrypting the information; blocking the flow of the "
            "encrypted information; terminating communications sessions attempting to pass "
            "encrypted information; [Assignment: organization-defined procedure or method]]"
            ) in ac4_4.guidance


def test_codes_follow_the_plain_label_and_sort_by_sort_id(library):
    load(LOW)
    ac = db.session.execute(sa.select(Domain).where(Domain.code == "AC")).scalar_one()
    codes = [i.code for i in ac.items]
    assert codes[:3] == ["AC-1", "AC-2", "AC-3"]
    assert codes.index("AC-8") < codes.index("AC-14") < codes.index("AC-22")
    assert all("-0" not in c for c in codes)


def test_withdrawn_controls_are_inactive_and_enhancements_kept(library):
    load(REV5)
    assert items("AC-13")[0].active is False  # withdrawn in rev5
    assert items("AC-2(1)")[0].domain.code == "AC"


def test_back_matter_citations_become_links_or_text(library):
    load(REV5)
    guidance = items("AC-1")[0].guidance
    assert "](#" not in guidance
    assert "References:\n\n- [" in guidance and "](https://" in guidance
    every = db.session.execute(sa.select(ReadinessItem.guidance)).scalars().all()
    assert not [g for g in every if "](#" in g]  # no link points at unimported back-matter


def test_yaml_catalog_reads_like_its_json(library):
    from_yaml = oscal.parse_catalog("low.yaml", nist("low.yaml"))
    from_json = oscal.parse_catalog("low.json", nist(LOW))
    strip = [{k: v for k, v in d.items() if k != "path"} for d in from_yaml]
    assert strip == [{k: v for k, v in d.items() if k != "path"} for d in from_json]
    load("low.yaml", nist("low.yaml"))
    assert items("AC-1")[0].source.title.endswith("LOW IMPACT BASELINE")


def refused(name: str, data: bytes, *expected, **kwargs) -> str:
    before = library_counts()
    with pytest.raises(LibraryFileError) as caught:
        load(name, data, **kwargs)
    db.session.rollback()
    message = str(caught.value)
    for text in expected:
        assert text in message, message
    assert library_counts() == before
    return message


def test_xml_is_refused_with_how_to_convert(library):
    xml = b'<?xml version="1.0"?>\n<catalog xmlns="http://csrc.nist.gov/ns/oscal/1.0"/>'
    refused("catalog.xml", xml, "only OSCAL JSON and YAML are read", "oscal-cli")
    refused("catalog.json", xml, "XML catalog")


def test_a_catalog_cannot_take_over_another_catalogs_namespace(library):
    load(REV5)
    rev5 = source_of("NIST Special Publication 800-53 Revision 5:")
    before = snapshot(rev5)
    message = refused(LOW, nist(LOW), f"namespace “{rev5.key}” already holds", "of its own",
                      namespace=rev5.key)
    assert "never moves items" in message
    refused(LOW, nist(LOW), "the seed library", namespace="seed")
    assert snapshot(rev5) == before


def test_nists_basic_sample_catalog_imports(library):
    result = load("basic-catalog.json")
    assert result.created > 0 and result.updated == 0


def test_catalog_export_validates_nests_enhancements_and_round_trips(library, wipe_library,
                                                                     monkeypatch):
    load(REV5)
    load(LOW)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    doc = oscal.catalog("Test library")
    assert_valid_oscal(doc, "catalog")
    rev5_ac = next(g for g in doc["catalog"]["groups"]
                   if g["id"].endswith(".ac") and "revision-5-security" in g["id"])
    ac2 = next(c for c in rev5_ac["controls"] if c["title"] == "Account Management")
    assert [c["props"][0]["value"] for c in ac2["controls"]][:2] == ["AC-2(1)", "AC-2(2)"]
    assert not any("(" in c["props"][0]["value"] for c in rev5_ac["controls"])
    ids = [c["id"] for g in doc["catalog"]["groups"] for c in g["controls"]]
    assert len(ids) == len(set(ids))  # AC-1 of rev5 and of LOW stay apart
    first = oscal.catalog_json("Test library")
    wipe_library()
    oscal.import_catalog(None, oscal.parse_catalog("c.json", first), "c.json")
    db.session.commit()
    assert oscal.catalog_json("Test library") == first
    assert len(items("AC-1")) == 2


def test_import_then_export_of_nist_content_validates(library):
    load("basic-catalog.json")
    assert_valid_oscal(json.loads(oscal.catalog_json("Basic")), "catalog")


def test_item_page_lays_out_the_statement_and_tells_the_sources_apart(library, client,
                                                                      login_as):
    load(REV5)
    load(LOW)
    login_as("operator")
    choose = client.get("/library/items/AC-1")
    assert choose.status_code == 300
    page = choose.data.decode()
    assert "AC-1 is in 2 sources" in page and "LOW IMPACT BASELINE" in page
    low_key = source_of("NIST Special Publication 800-53 Revision 5.1.1 LOW").key
    item_page = client.get(f"/library/items/AC-1?source={low_key}")
    assert item_page.status_code == 200
    html = item_page.data.decode()
    # a. → 1. → (a) as nested lists, not one paragraph; the selection readable.
    assert "<li>a. Develop, document, and disseminate to" in html and ":<ul>" in html
    assert "<li>1. [selection (one or more): organization-level; mission/business " \
           "process-level; system-level] access control policy that:" in html.lower()
    assert "<li>(a) Addresses purpose, scope, roles" in html
    assert 'href="https://' in html
    assert client.get("/library/AC").status_code == 300
    assert client.get(f"/library/AC?source={low_key}").status_code == 200
    assert client.get("/library/DV").status_code == 200  # the seed library's, unambiguous
    assert client.get("/library/items/AC-1?source=nope").status_code == 404


def test_assessment_results_validate_and_their_references_resolve(library, people, client,
                                                                   login_as, runner):
    import base64

    from tests.exchange.test_cli_and_pages import signed_off_audit

    audit = signed_off_audit(people)
    doc = json.loads(oscal.assessment_results_json(audit))
    assert_valid_oscal(doc, "assessment-results")
    resources = {r["uuid"]: r for r in doc["assessment-results"]["back-matter"]["resources"]}
    plan = resources[doc["assessment-results"]["import-ap"]["href"].lstrip("#")]
    token = runner.invoke(args=["users", "token", "auditor@test.example"]).output.strip()
    login_as("auditor")
    for resource in resources.values():
        for link in resource.get("rlinks", []):
            headers = {"Authorization": f"Bearer {token}"} if link["href"].startswith(
                "/api/") else {}
            assert client.get(link["href"], headers=headers).status_code == 200, link["href"]
    assert plan["rlinks"][0]["href"] == f"/audits/{audit.id}"
    embedded = next(r for r in resources.values() if "base64" in r)
    catalog = json.loads(base64.b64decode(embedded["base64"]["value"]))
    assert_valid_oscal(catalog, "catalog")
    reviewed = {c["control-id"] for c in doc["assessment-results"]["results"][0][
        "reviewed-controls"]["control-selections"][0]["include-controls"]}
    assert reviewed == {c["id"] for g in catalog["catalog"]["groups"] for c in g["controls"]}
