"""Telling people their part: an inbox for everyone, e-mail for who chose it, reminders.

An event of the activity log (an assignment, a submission, a send-back, a verdict, a
comment, a signal…) becomes notifications in the same transaction (`subscribers.py`), one
per recipient and deduplicated by a key, and e-mails to send are written to an outbox
(`Delivery`) in that transaction too; a job sends them after the commit, retrying with
backoff (`delivery.py`). Outgoing webhooks take the same path: an event for each
subscribed endpoint in that transaction, a signed POST after it (`outgoing.py`). Reminders
and daily digests come from `flask notify reminders` or the job thread's morning run
(`reminders.py`).
"""
