"""Notifications on both databases, with a real SMTP server on loopback: who hears of each
event, exactly once, on the channels they chose; the outbox's retries; reminders and digests
that a second run the same day does not repeat; the inbox, the bell and one-click
unsubscribe."""

from datetime import timedelta

import sqlalchemy as sa

from tests import factories
from tests.routes import sign_in
from tracker import clock
from tracker.audits import service as audits
from tracker.audits.models import AuditItem, ItemStatus, Verdict
from tracker.extensions import db
from tracker.notifications import delivery
from tracker.notifications.models import Delivery, DeliveryStatus, Notification
from tracker.signals import service as signals


def inbox(user) -> list[tuple[str, str]]:
    return [(n.event, n.title) for n in db.session.execute(
        sa.select(Notification).where(Notification.user_id == user.id)
        .order_by(Notification.id)).scalars()]


def events_of(user) -> list[str]:
    return [event for event, _ in inbox(user)]


def mailed_to(mail, address: str) -> list:
    return [m for m in mail.received if m["To"] == address]


def _items(audit) -> list[AuditItem]:
    return db.session.execute(sa.select(AuditItem).where(AuditItem.audit_id == audit.id)
                              .order_by(AuditItem.code)).scalars().all()


def _assess_all(site) -> None:
    """Every item decided (not met), as submitting for review needs."""
    audits.bulk_update(site.people["lead"], site.audit, [i.id for i in _items(site.audit)],
                       status=ItemStatus.NOT_MET)


def test_an_assignment_reaches_the_new_owner_once_and_by_mail(site, mail):
    lead, operator = site.people["lead"], site.people["operator"]
    before = events_of(operator)
    audits.update_item(lead, site.item, expected_version=None, owner=operator)
    db.session.commit()
    assert events_of(operator) == [*before, "assigned"]
    assert "assigned" not in events_of(lead)  # never told of one's own change
    # a status change tells no one; the same owner again is no change
    audits.update_item(operator, site.item, expected_version=None, status="in_progress")
    audits.update_item(lead, site.item, expected_version=None, owner=operator)
    db.session.commit()
    assert events_of(operator).count("assigned") == 1
    (message,) = mailed_to(mail, operator.email)
    assert f"{site.item.code} {site.item.title} is yours" == message["Subject"]
    assert message.is_multipart() and {p.get_content_type() for p in message.iter_parts()} == {
        "text/plain", "text/html"}
    text = message.get_body(("plain",)).get_content()
    assert (f"https://readiness.test.example/audits/{site.audit.id}/items/{site.item.id}"
            in text)
    assert message["List-Unsubscribe"].startswith(
        "<https://readiness.test.example/notifications/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_submit_rework_and_send_back_reach_auditors_owners_and_the_lead(site, mail):
    lead, operator = site.people["lead"], site.people["operator"]
    auditor, member_auditor = site.people["auditor"], site.people["member_auditor"]
    audits.update_item(lead, site.item, expected_version=None, owner=operator)
    _assess_all(site)
    factories.submit(lead, site.audit)
    db.session.commit()
    assert "review_requested" in events_of(auditor)
    assert "review_requested" not in events_of(member_auditor)  # may not sign off Alpha's
    audits.review_item(auditor, site.item, Verdict.NEEDS_REWORK, "The runbook is from 2024.")
    audits.return_audit(auditor, site.audit, "One item needs rework.")
    db.session.commit()
    assert events_of(operator)[-2:] == ["needs_rework", "sent_back"]
    assert events_of(lead)[-1] == "sent_back"
    subjects = [m["Subject"] for m in mailed_to(mail, operator.email)]
    assert f"{site.item.code} needs rework" in subjects
    assert f"Alpha {site.audit.period} was sent back" in subjects
    (sent_back,) = [m for m in mailed_to(mail, lead.email) if "sent back" in m["Subject"]]
    assert "One item needs rework." in sent_back.get_body(("plain",)).get_content()
    assert "One item needs rework." in sent_back.get_body(("html",)).get_content()


def test_comments_reach_the_owner_and_earlier_commenters_and_mentions_the_named(site):
    lead, operator, auditor = (site.people[r] for r in ("lead", "operator", "auditor"))
    before = events_of(operator)
    audits.add_comment(lead, site.item, "@Omar Operator can you attach the drill log?")
    db.session.commit()
    assert events_of(operator) == [*before, "mention"]  # mentioned: not told twice
    audits.add_comment(auditor, site.item, "I will look at it on Monday.")
    db.session.commit()
    assert events_of(operator)[-1] == "comment" and events_of(lead)[-1] == "comment"
    assert "comment" not in events_of(auditor)


def test_a_signal_reaches_the_leads_of_teams_that_have_not_met_its_controls(site):
    # the site's signal (on DV, logged by the operator): Alpha and Beta both have DV items open
    assert "signal" in events_of(site.people["lead"])
    assert "signal" in events_of(site.people["outsider"])
    assert "signal" not in events_of(site.people["operator"])  # who logged it
    signals.acknowledge(site.people["lead"], site.signal, "Looking at the label service.")
    db.session.commit()
    assert events_of(site.people["operator"])[-1] == "signal_update"


def test_a_mail_server_that_refuses_is_retried_then_marked_failed(app, site, mail, client):
    app.config["DELIVERY_RETRY_SECONDS"] = "0,0"
    mail.refusing = True
    operator = site.people["operator"]
    audits.update_item(site.people["lead"], site.item, expected_version=None, owner=operator)
    db.session.commit()  # the first attempt runs after the commit, and fails
    assert db.session.get(AuditItem, site.item.id).owner_id == operator.id  # saved regardless
    (message,) = db.session.execute(sa.select(Delivery)).scalars().all()
    assert message.status == DeliveryStatus.PENDING and message.attempts == 1
    assert "451" in message.last_error and "Attempt 1 of 3" in message.last_error
    delivery.sweep_deliveries()
    delivery.sweep_deliveries()
    db.session.refresh(message)
    assert message.status == DeliveryStatus.FAILED and message.attempts == 3
    assert delivery.sweep_deliveries() == {}  # a failed one is not tried again by itself
    assert mail.received == []
    # the admin's outbox shows it; Retry sends it once the server takes mail again
    sign_in(client, site, "admin")
    page = client.get("/notifications/outbox").get_data(as_text=True)
    assert operator.email in page and "451" in page
    mail.refusing = False
    response = client.post(f"/notifications/outbox/{message.id}/retry")
    assert response.status_code == 302
    db.session.refresh(message)
    assert message.status == DeliveryStatus.SENT and len(mailed_to(mail, operator.email)) == 1


def test_without_a_mail_server_the_inbox_still_has_everything(app, site):
    app.config["MAIL_SERVER"] = None
    audits.update_item(site.people["lead"], site.item, expected_version=None,
                       owner=site.people["operator"])
    db.session.commit()
    assert "assigned" in events_of(site.people["operator"])
    assert db.session.execute(sa.select(sa.func.count()).select_from(Delivery)).scalar() == 0


def test_reminders_twice_a_day_send_one_digest_per_person(site, mail, runner):
    lead, operator = site.people["lead"], site.people["operator"]
    today = clock.today()
    first, second, third = _items(site.audit)[:3]
    for item, due in ((first, today + timedelta(days=7)), (second, today + timedelta(days=1)),
                      (third, today - timedelta(days=2))):
        audits.update_item(lead, item, expected_version=None, owner=operator, due_date=due)
    db.session.commit()
    mail.received.clear()
    dry = runner.invoke(args=["notify", "reminders", "--dry-run"])
    assert dry.exit_code == 0 and "would send: 2 due soon, 2 overdue" in dry.output, dry.output
    assert "due_soon" not in events_of(operator) and mail.received == []
    for _ in range(2):
        result = runner.invoke(args=["notify", "reminders"])
        assert result.exit_code == 0, result.output
    assert events_of(operator).count("due_soon") == 2
    assert events_of(operator).count("overdue") == 1
    assert [t for e, t in inbox(lead) if e == "overdue"] == ["Alpha has 1 overdue item"]
    (digest,) = mailed_to(mail, operator.email)
    assert digest["Subject"].startswith("Your readiness digest")
    body = digest.get_body(("plain",)).get_content()
    assert f"{first.code} is due in 7 days" in body and f"{second.code} is due tomorrow" in body
    assert "You have 1 overdue item" in body
    assert len(mailed_to(mail, lead.email)) == 1
    assert "0 due soon, 0 overdue" in result.output  # the second run: nothing new


def test_the_inbox_the_bell_and_marking_read(client, site):
    lead = site.people["lead"]
    sign_in(client, site, "lead")
    home = client.get("/").get_data(as_text=True)
    assert 'aria-label="Inbox, 1 unread"' in home
    page = client.get("/notifications/").get_data(as_text=True)
    assert "Label purchase fails for PO boxes" in page and "Mark all read" in page
    (entry,) = db.session.execute(sa.select(Notification).where(
        Notification.user_id == lead.id)).scalars().all()
    response = client.get(f"/notifications/{entry.id}")
    assert response.status_code == 302 and response.headers["Location"].endswith(
        f"/signals/{site.signal.id}")
    # the bell is never stale, even on a page served from the cache
    dashboard = client.get("/dashboard/").get_data(as_text=True)
    assert 'aria-label="Inbox"' in dashboard
    audits.update_item(site.people["operator"], site.item, expected_version=None, owner=lead)
    db.session.commit()  # (an item save: the dashboard's own version moves too)
    client.get("/dashboard/")
    audits.add_comment(site.people["operator"], site.item, "Over to you.")
    db.session.commit()
    assert 'aria-label="Inbox, 2 unread"' in client.get("/dashboard/").get_data(as_text=True)
    assert client.post("/notifications/read").status_code == 302
    assert 'aria-label="Inbox"' in client.get("/dashboard/").get_data(as_text=True)


def test_the_bell_on_a_cached_page_moves_without_an_event(client, site):
    sign_in(client, site, "lead")
    first = client.get("/dashboard/").get_data(as_text=True)
    assert 'aria-label="Inbox, 1 unread"' in first
    lead = site.people["lead"]
    db.session.execute(sa.update(Notification).where(Notification.user_id == lead.id)
                       .values(read_at=sa.func.current_timestamp()))
    db.session.commit()  # no activity event: the dashboard's version is the same
    again = client.get("/dashboard/").get_data(as_text=True)
    assert 'aria-label="Inbox"' in again
    assert again.replace('aria-label="Inbox"', "").count("Inbox, 1 unread") == 0


def test_settings_choose_the_channel_and_refuse_what_is_not_one(client, site, mail):
    sign_in(client, site, "operator")
    response = client.post("/notifications/settings", data={"event-assigned": "off"})
    assert response.status_code == 302
    bad = client.post("/notifications/settings", data={"event-comment": "carrier-pigeon"},
                      follow_redirects=True)
    assert "Choose inbox, e-mail, daily digest or off" in bad.get_data(as_text=True)
    page = client.get("/notifications/settings").get_data(as_text=True)
    assert '<option value="off" selected>' in page
    audits.update_item(site.people["lead"], site.item, expected_version=None,
                       owner=site.people["operator"])
    db.session.commit()
    assert "assigned" not in events_of(site.people["operator"]) and mail.received == []


def test_one_click_unsubscribe_from_the_mail_stops_that_kind_of_mail(app, site, mail):
    operator = site.people["operator"]
    audits.update_item(site.people["lead"], site.item, expected_version=None, owner=operator)
    db.session.commit()
    url = mailed_to(mail, operator.email)[0]["List-Unsubscribe"].strip("<>")
    path = url.removeprefix("https://readiness.test.example")
    anonymous = app.test_client()  # a mail client: no session, no CSRF token
    assert "Stop e-mail to operator@test.example" in anonymous.get(path).get_data(as_text=True)
    done = anonymous.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "no longer receives e-mail" in done.get_data(as_text=True)
    assert anonymous.post(path[:-3] + "xyz").status_code == 404
    audits.update_item(site.people["lead"], site.item, expected_version=None, owner=None)
    audits.update_item(site.people["lead"], site.item, expected_version=None, owner=operator)
    db.session.commit()
    assert events_of(operator).count("assigned") == 2  # still in the inbox
    assert len(mailed_to(mail, operator.email)) == 1  # no second e-mail


def test_a_sign_off_tells_the_team_with_the_opinion(site):
    lead, operator, auditor = (site.people[r] for r in ("lead", "operator", "auditor"))
    _assess_all(site)
    factories.submit(lead, site.audit)
    factories.sign_off(auditor, site.audit, "Reviewed with the team.")
    db.session.commit()
    for person in (lead, operator):
        titles = db.session.execute(sa.select(Notification.title).where(
            Notification.user_id == person.id, Notification.event == "signed_off")
        ).scalars().all()
        assert titles == [f"Alpha {site.audit.period} is signed off: ready with exceptions"]
