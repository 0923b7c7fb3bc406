from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from tracker.forms import MultiCheckboxField
from tracker.signals.models import Severity, SignalSource

SOURCE_LABELS = {
    SignalSource.SUPPORT_TICKET: "Support tickets",
    SignalSource.CUSTOMER_COMPLAINT: "Customer complaint",
    SignalSource.MONITORING_ALERT: "Monitoring alert",
    SignalSource.OPERATOR_OBSERVATION: "Operator observation",
}
SEVERITY_LABELS = {Severity.LOW: "Low", Severity.MEDIUM: "Medium", Severity.HIGH: "High",
                   Severity.CRITICAL: "Critical"}


class SignalForm(FlaskForm):
    summary = StringField(
        "What was seen", validators=[DataRequired(), Length(max=300)],
        description="One line with the numbers, e.g. “14 tickets today: label purchase fails "
                    "for PO-box addresses”.")
    source = SelectField("Source", choices=[SelectChoice(s.value, label)
                                            for s, label in SOURCE_LABELS.items()])
    severity = SelectField("Severity", default=Severity.MEDIUM.value,
                           choices=[SelectChoice(s.value, label)
                                    for s, label in SEVERITY_LABELS.items()])
    observed_at = DateTimeLocalField("When (UTC)", format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
                                     validators=[InputRequired(message="Enter when it was seen.")])
    failures = MultiCheckboxField(
        "Failure patterns it points to", coerce=int, validators=[Optional()],
        description="Tick what it looks like; the controls that guard against these are checked "
                    "against every team's latest audit.")
    domain = SelectField("Domain", coerce=int, validators=[Optional()],
                         description="Needed only if no failure pattern fits.")
    details = TextAreaField("Details", validators=[Optional(), Length(max=10_000)],
                            description="Ticket numbers, order ids, screenshots links, who saw it.")

    def set_choices(self, failures_by_domain, domains) -> None:
        self.failures.choices = [SelectChoice(f.id, f"{d.code} · {f.title}")
                                 for f, d in failures_by_domain]
        self.domain.choices = [SelectChoice(0, "— from the failure pattern —")] + [
            SelectChoice(d.id, f"{d.code} · {d.name}") for d in domains]


class NoteForm(FlaskForm):
    note = TextAreaField("Note", validators=[DataRequired(message="Write a note first."),
                                             Length(max=10_000)])
