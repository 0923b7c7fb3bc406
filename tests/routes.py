"""Every route of the app, with real URLs built from one shared set of data.

The batteries that must cover every route — the role × route matrix (tests/test_permissions.py),
the hostile-input battery and the page checks for inline script and style
(tests/security/) — iterate `app.url_map` through `routes()` and build each URL with
`Site.url_for`. A route whose URL has a parameter this module cannot fill fails those tests
with a message naming the parameter: add it to `Site.params` (or to ENDPOINT_PARAMS when the
same name means different things on different routes).
"""

import io
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import Flask
from flask import url_for as flask_url_for

from tests import factories
from tracker.extensions import db

ROLES = ("anonymous", "admin", "lead", "operator", "auditor", "outsider")
SKIPPED_ENDPOINTS = {"static"}  # served by Flask itself, no view of ours
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Route:
    endpoint: str
    rule: str
    methods: frozenset[str]
    arguments: frozenset[str]

    @property
    def is_get(self) -> bool:
        return "GET" in self.methods

    @property
    def write_methods(self) -> list[str]:
        return sorted(m for m in self.methods if m in BODY_METHODS)


def routes(app: Flask) -> list[Route]:
    """Every route of the app except static files, one entry per endpoint and rule."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIPPED_ENDPOINTS:
            continue
        found.append(Route(rule.endpoint, rule.rule,
                           frozenset(rule.methods - {"HEAD", "OPTIONS"}),
                           frozenset(rule.arguments)))
    return sorted(found, key=lambda r: (r.endpoint, r.rule))


def get_routes(app: Flask) -> list[Route]:
    return [r for r in routes(app) if r.is_get]


# Parameters whose meaning depends on the route: endpoint → {name: attribute of Site}.
ENDPOINT_PARAMS = {
    "library.domain": {"code": "domain_code"},
    "library.item": {"code": "item_code"},
    "library.failure": {"code": "failure_code"},
    "library.content": {"code": "content_code"},
}
API_PREFIX = "api."


@dataclass
class Site:
    """People in every role, the library, and one audit of team Alpha with an item that has
    evidence (a note and a file) and a comment. The outsider leads team Beta, which has an
    audit of its own, so every Alpha URL is "another team's" for them."""

    people: dict
    audit: object
    item: object
    evidence: object
    file_evidence: object
    comment: object
    beta_audit: object
    signal: object = None
    action: object = None
    tokens: dict = field(default_factory=dict)  # role → API bearer token
    token_ids: dict = field(default_factory=dict)  # role → ApiToken id
    domain_code: str = "DV"
    item_code: str = "DV-01"
    failure_code: str = ""
    content_code: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def params(self) -> dict:
        """URL parameter name → value, for parameters that mean the same on every route."""
        p = self.people
        return {
            "user_id": p["operator"].id,
            "team_id": p["alpha"].id,
            "audit_id": self.audit.id,
            "item_id": self.item.id,
            "audit_item_id": self.item.id,
            "evidence_id": self.file_evidence.id,
            "comment_id": self.comment.id,
            "period": self.audit.period,
            "domain_code": self.domain_code,
            "signal_id": self.signal.id,
            "action_id": self.action.id,
            "token_id": self.token_ids["operator"],  # the operator's own token
            "fmt": "csv",
            "notification_id": 1,
            "delivery_id": 1,
            "endpoint_id": 1,  # no webhook endpoint in the site: 404 for the admin
            "token": "not-a-signed-token",
            **self.extra,
        }

    def url_for(self, route: Route, **overrides) -> str:
        values = {}
        by_endpoint = ENDPOINT_PARAMS.get(route.endpoint, {})
        for name in route.arguments:
            if name in overrides:
                values[name] = overrides[name]
            elif name in by_endpoint:
                values[name] = getattr(self, by_endpoint[name])
            elif name in self.params:
                values[name] = self.params[name]
            else:
                raise LookupError(
                    f"{route.endpoint} ({route.rule}) has a parameter <{name}> that "
                    "tests/routes.py cannot fill: add it to Site.params or ENDPOINT_PARAMS."
                )
        return flask_url_for(route.endpoint, **values)


def build_site() -> dict:
    """The data of a Site on top of the library and make_people's (the `site` seed): returns
    its keys, from which load_site finds it in each test's own session."""
    from tracker.actions.service import create_action
    from tracker.audits import service as audits
    from tracker.audits.models import AuditItem
    from tracker.auth.service import create_token
    from tracker.db import utcnow
    from tracker.library.models import Domain, FailurePattern, HubContent
    from tracker.signals.service import report_signal

    people = factories.load_people()
    domains = db.session.execute(
        sa.select(Domain).where(Domain.code.in_(["DV", "SUP"])).order_by(Domain.code)
    ).scalars().all()  # ordered: Beta's audit has DV, the domain of the site's item
    audit = audits.start_audit(people["lead"], people["alpha"], "2026-Q2", domains)
    item = db.session.execute(
        sa.select(AuditItem).where(AuditItem.audit_id == audit.id).order_by(AuditItem.code)
    ).scalars().first()
    evidence = audits.add_evidence(people["operator"], item, note="Runbook reviewed.")
    file_evidence = audits.add_evidence(people["operator"], item,
                                        upload=io.BytesIO(b"%PDF-1.4\n% evidence\n"),
                                        filename="drill.pdf")
    comment = audits.add_comment(people["operator"], item, "Done, see the runbook.")
    beta_audit = audits.start_audit(people["outsider"], people["beta"], "2026-Q2", domains[:1])
    failure = db.session.execute(
        sa.select(FailurePattern.code).order_by(FailurePattern.code)).scalars().first()
    content = db.session.execute(
        sa.select(HubContent.code).order_by(HubContent.code)).scalars().first()
    signal = report_signal(people["operator"], summary="Label purchase fails for PO boxes",
                           source="support_ticket", severity="high", observed_at=utcnow(),
                           domain=domains[0], details="Seen in 14 tickets today.")
    # No owner: an assignment notice would change what the notification tests count.
    action = create_action(people["lead"], title="Validate addresses before label purchase",
                           audit_item=item)
    tokens, token_ids = {}, {}
    for role in ROLES[1:]:
        row, tokens[role] = create_token(people[role], f"{role} script")
        token_ids[role] = row.id
    db.session.commit()
    return {"audit": audit.id, "item": item.id, "evidence": evidence.id,
            "file_evidence": file_evidence.id, "comment": comment.id,
            "beta_audit": beta_audit.id, "signal": signal.id, "action": action.id, "tokens": tokens,
            "token_ids": token_ids, "failure_code": failure or "",
            "content_code": content or ""}


def load_site(keys: dict) -> Site:
    """build_site's Site, its objects loaded in the current session."""
    from tracker.actions.models import CorrectiveAction
    from tracker.audits.models import Audit, AuditItem, Comment, Evidence
    from tracker.signals.models import Signal

    def get(model, name):
        found = db.session.get(model, keys[name])
        assert found is not None, f"the site's {name} ({keys[name]}) is not in this database"
        return found

    return Site(people=factories.load_people(), audit=get(Audit, "audit"),
                item=get(AuditItem, "item"), evidence=get(Evidence, "evidence"),
                file_evidence=get(Evidence, "file_evidence"), comment=get(Comment, "comment"),
                beta_audit=get(Audit, "beta_audit"), signal=get(Signal, "signal"),
                action=get(CorrectiveAction, "action"),
                tokens=dict(keys["tokens"]), token_ids=dict(keys["token_ids"]),
                failure_code=keys["failure_code"], content_code=keys["content_code"])


def activity_count() -> int:
    from tracker.activity import ActivityEvent

    db.session.expire_all()
    return db.session.execute(sa.select(sa.func.count(ActivityEvent.id))).scalar_one()


def is_api(route: Route) -> bool:
    return route.endpoint.startswith(API_PREFIX)


def api_headers(site: Site, role: str) -> dict:
    """The bearer token of `role` ("anonymous" sends none): the API ignores cookies."""
    return {} if role == "anonymous" else {"Authorization": f"Bearer {site.tokens[role]}"}


def _item_version(site) -> int:
    from tracker.audits.models import AuditItem

    db.session.expire_all()
    return db.session.get(AuditItem, site.item.id).version


# A valid body per API write, so the status says what the role may do (an empty body would
# be refused as invalid before anyone's permission is looked at). Built at request time.
API_BODIES = {
    "api.update_item": lambda site: {"version": _item_version(site), "status": "in_progress"},
    "api.add_evidence": lambda site: {"note": "Checked the runbook."},
    "api.create_audit": lambda site: {"team_id": site.people["alpha"].id, "period": "2026-Q3",
                                      "domains": ["DV"]},
    "api.create_signal": lambda site: {"summary": "Refund emails bounce", "domain": "DV",
                                       "source": "support_ticket", "severity": "low"},
    "api.review_item": lambda site: {"verdict": "accepted"},
    "api.return_audit": lambda site: {"reason": "Attach the drill report."},
    "api.sign_off": lambda site: {"statement": "Reviewed every item.", "opinion": "not_ready"},
    "api.mark_rest_not_met": lambda site: {"note": "Not done in time."},
    "api.accept_items": lambda site: {},
    "api.start_next_quarter": lambda site: {},
    "api.add_comment": lambda site: {"body": "Checked the runbook with the team."},
    "api.bulk_update": lambda site: {"item_ids": [site.item.id], "status": "in_progress"},
    "api.acknowledge_signal": lambda site: {"note": "Looking into it today."},
    "api.resolve_signal": lambda site: {"note": "Fixed the bounce handling."},
    "api.create_action": lambda site: {"title": "Check PO-box addresses",
                                       "audit_item_id": site.item.id},
    "api.update_action": lambda site: {"priority": "high"},
}


def api_body(site: Site, route: Route) -> dict | None:
    return API_BODIES.get(route.endpoint, lambda _: None)(site)


def sign_in(client, site: Site, role: str) -> None:
    """Sign the client in as `role` ("anonymous" signs out)."""
    client.post("/logout")
    if role == "anonymous":
        return
    user = site.people[role]
    response = client.post("/login", data={"email": user.email, "password": factories.PASSWORD})
    assert response.status_code == 302, f"could not sign in as {role}"
