"""The kinds of event a person can hear of, with who hears and the default channel."""

from dataclasses import dataclass

from tracker.notifications.models import Channel


@dataclass(frozen=True)
class EventKind:
    key: str
    label: str      # on the settings page: "<label>"
    who: str        # on the settings page: who receives it
    default: Channel


EVENTS: tuple[EventKind, ...] = (
    EventKind("assigned", "An item is assigned to you", "the new owner", Channel.EMAIL),
    EventKind("due_soon", "Your item is due in 7 days, or tomorrow; your corrective action "
              "is due soon", "the owner", Channel.DIGEST),
    EventKind("overdue", "Overdue items and corrective actions",
              "owners, and the lead for the team", Channel.DIGEST),
    EventKind("review_requested", "An audit is submitted for review", "auditors", Channel.EMAIL),
    EventKind("sent_back", "An audit is sent back, with the reason",
              "the lead, and owners of items needing rework", Channel.EMAIL),
    EventKind("needs_rework", "Your item is marked “needs rework”", "the owner", Channel.EMAIL),
    EventKind("signed_off", "An audit is signed off", "the team", Channel.INBOX),
    EventKind("report", "A signed report is ready, or failed", "the lead and the auditor",
              Channel.INBOX),
    EventKind("signal", "A frontline signal names a control your team has not met",
              "leads of those teams", Channel.INBOX),
    EventKind("signal_update", "A signal you logged is acknowledged or resolved",
              "who logged it", Channel.INBOX),
    EventKind("comment", "A comment on an item you own or commented on",
              "the owner and earlier commenters", Channel.INBOX),
    EventKind("mention", "You are @mentioned in a comment", "the person mentioned",
              Channel.EMAIL),
)
BY_KEY = {kind.key: kind for kind in EVENTS}
