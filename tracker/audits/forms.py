"""Audit forms. Choices that depend on the team are filled in by the views."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import InputRequired, Length, Optional

from tracker.audits.models import ItemStatus
from tracker.forms import MultiCheckboxField

STATUS_CHOICES = [SelectChoice(s.value, s.label) for s in ItemStatus]
NO_CHANGE = ""
UNASSIGNED = "none"


class StartAuditForm(FlaskForm):
    team_id = SelectField("Team", coerce=int)
    period = StringField("Period", validators=[InputRequired(message="Enter the period.")],
                         description="YEAR-Qn, for example 2026-Q4. One audit per team and "
                                     "period.")
    domains = MultiCheckboxField("Domains in scope", coerce=int,
                                 description="The audit snapshots every active readiness item "
                                             "of these domains.")
    due_date = DateField("Due date", validators=[Optional()],
                         description="Every item starts with this due date; change them one by "
                                     "one or in bulk later.")
    previous_id = HiddenField()

    def fill_defaults(self, *, period: str, team_id: int | None, domain_ids: list[int],
                      previous=None) -> None:
        """What the form shows first: the period's end as due date, the given scope."""
        from tracker.audits.service import quarter_end

        self.period.data = period
        self.team_id.data = team_id
        self.domains.data = domain_ids
        self.due_date.data = quarter_end(period)
        self.previous_id.data = str(previous.id) if previous else ""


def effective_date_field(field_id: str) -> DateField:
    """When the evidence's thing was done; each evidence form's own id, as they share a page."""
    return DateField("Effective date", validators=[Optional()], id=field_id,
                     description="When it was done; leave empty for today.")


class ItemForm(FlaskForm):
    """The item page's one form: status (and, for the lead, owner and due date) with optional
    new evidence, saved together or not at all. Carries the version the page was loaded with."""

    status = SelectField("Status", choices=STATUS_CHOICES)
    justification = TextAreaField(
        "Justification", validators=[Optional(), Length(max=5000)],
        description="Required for “N/A”: say why this item does not apply to the team.")
    owner_id = SelectField("Owner")
    due_date = DateField("Due date", validators=[Optional()])
    evidence_file = FileField("Attach a file")
    evidence_url = URLField("Link", validators=[Optional(), Length(max=2048)],
                            description="Where the evidence is kept, starting with https://")
    evidence_note = TextAreaField("Evidence note", validators=[Optional(), Length(max=20_000)],
                                  description="What you checked and what you found.")
    evidence_date = effective_date_field("evidence-date")
    version = IntegerField(validators=[InputRequired()])

    # The service's names for the evidence fields (its refusals name them).
    EVIDENCE_FIELDS = {"file": "evidence_file", "url": "evidence_url", "note": "evidence_note",
                       "effective_date": "evidence_date"}

    def evidence(self) -> list[dict]:
        """The new evidence given, as add_evidence's arguments: a file, a link and a note,
        each when filled in."""
        given = []
        upload = self.evidence_file.data
        if upload and upload.filename:
            given.append({"upload": upload.stream, "filename": upload.filename})
        if (self.evidence_url.data or "").strip():
            given.append({"url": self.evidence_url.data})
        if (self.evidence_note.data or "").strip():
            given.append({"note": self.evidence_note.data})
        for one in given:
            one["effective_date"] = self.evidence_date.data
        return given


class EvidenceReplaceForm(FlaskForm):
    """The new evidence in place of one piece: of the same kind, the view says which."""

    file = FileField("New file")
    url = URLField("New link", validators=[Optional(), Length(max=2048)])
    note = TextAreaField("New note", validators=[Optional(), Length(max=20_000)])
    effective_date = DateField("Effective date", validators=[Optional()],
                               description="When it was done; leave empty for today.")


class EvidenceFileForm(FlaskForm):
    kind = HiddenField(default="file")
    file = FileField("File", validators=[FileRequired(message="Choose a file first.")])
    effective_date = effective_date_field("file-effective-date")


class EvidenceLinkForm(FlaskForm):
    kind = HiddenField(default="url")
    url = URLField("Link", validators=[InputRequired(message="Enter the link first."),
                                       Length(max=2048)],
                   description="Where the evidence is kept, starting with https://")
    effective_date = effective_date_field("link-effective-date")


class EvidenceNoteForm(FlaskForm):
    kind = HiddenField(default="note")
    note = TextAreaField("Note", validators=[InputRequired(message="Write the note first."),
                                            Length(max=20_000)],
                         description="What you checked and what you found.")
    effective_date = effective_date_field("note-effective-date")


class CommentForm(FlaskForm):
    body = TextAreaField("Comment", validators=[Length(max=10_000)])


class VerdictForm(FlaskForm):
    verdict = RadioField("Verdict", choices=[SelectChoice("accepted", "Accept"),
                                             SelectChoice("needs_rework", "Send back for rework")],
                         validators=[InputRequired(message="Choose accept or send back.")])
    note = TextAreaField("Note to the team", validators=[Optional(), Length(max=5000)],
                         description="Required when you send the item back.")


class BulkForm(FlaskForm):
    item_ids = SelectMultipleField("Items", coerce=int, validate_choice=False)
    owner_id = SelectField("Set owner")
    due_date = DateField("Set due date", validators=[Optional()])
    status = SelectField("Set status",
                         choices=[SelectChoice(NO_CHANGE, "— keep —"), *STATUS_CHOICES])
    justification = StringField("Justification (for N/A)",
                                validators=[Optional(), Length(max=5000)])


class SubmitForm(FlaskForm):
    """Confirmation only."""


class ReturnForm(FlaskForm):
    reason = TextAreaField("Reason", validators=[Length(max=5000)],
                           description="The team sees this on the audit page: say what to fix.")


class SignOffForm(FlaskForm):
    opinion = RadioField("Your opinion", choices=[
        SelectChoice("ready", "Ready: every applicable item is met"),
        SelectChoice("ready_with_exceptions", "Ready with exceptions: the items not met are "
                                              "listed as the exceptions, with your notes"),
        SelectChoice("not_ready", "Not ready")],
        validators=[InputRequired(message="Choose your opinion: it is printed on the "
                                          "report's cover.")])
    statement = TextAreaField("Sign-off statement", validators=[Length(max=5000)],
                              description="Printed in the signed report, with your name and "
                                          "the time.")


class MarkRestForm(FlaskForm):
    note = TextAreaField("Note", validators=[Length(max=5000)],
                         description="Added to each of these items as a comment: say why they "
                                     "are not met and what happens next.")
