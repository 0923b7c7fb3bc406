"""Who sees which readiness, as a role × rule matrix (tracker/auth/permissions.py)."""

import pytest

from tracker.auth import permissions as p

ROLES = ["admin", "auditor", "member_auditor", "lead", "operator", "outsider"]


@pytest.mark.parametrize("role, organisation, alpha_page, beta_page, opens_alpha, triage", [
    # role             org    Alpha  Beta   Alpha's audits  triage signals
    ("admin",          True,  True,  True,  True,           True),
    ("auditor",        True,  True,  True,  True,           True),
    ("member_auditor", True,  True,  True,  True,           True),
    ("lead",           True,  True,  True,  True,           True),   # leads Alpha
    ("operator",       False, True,  False, True,           False),  # operator in Alpha
    ("outsider",       True,  True,  True,  False,          True),   # leads Beta only
])
def test_dashboard_rules(people, role, organisation, alpha_page, beta_page, opens_alpha,
                         triage):
    user, alpha, beta = people[role], people["alpha"].id, people["beta"].id
    assert p.can_view_organisation(user) is organisation
    assert p.can_view_team_dashboard(user, alpha) is alpha_page
    assert p.can_view_team_dashboard(user, beta) is beta_page
    assert p.can_open_team_audits(user, alpha) is opens_alpha
    assert p.can_triage_signal(user) is triage
    assert p.can_report_signal(user) and p.can_view_signals(user)
    assert p.dashboard_team_scope(user) == (None if organisation else [alpha])
