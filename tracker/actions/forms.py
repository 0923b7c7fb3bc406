"""Corrective action forms. Owner and team choices depend on the team: the views fill them."""

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional

from tracker.actions.models import (
    ACTION_STATUS_LABELS,
    OPEN_ACTION_STATUSES,
    PRIORITY_LABELS,
    ActionStatus,
    Priority,
)

UNASSIGNED = "none"


class ActionForm(FlaskForm):
    title = StringField("What will be fixed", validators=[
        InputRequired(message="Say what will be fixed."), Length(max=200)])
    team_id = SelectField("Team", coerce=int, validators=[Optional()])
    owner_id = SelectField("Owner")
    due_on = DateField("Due", validators=[Optional()])
    priority = SelectField("Priority", default=Priority.MEDIUM.value,
                           choices=[SelectChoice(p.value, label)
                                    for p, label in PRIORITY_LABELS.items()])
    # Only the edit form shows it; a new action starts open.
    status = SelectField("Status", default=ActionStatus.OPEN.value,
                         choices=[SelectChoice(s.value, ACTION_STATUS_LABELS[s])
                                  for s in OPEN_ACTION_STATUSES])
    audit_item_id = HiddenField()
    signal_id = HiddenField()

    def set_owners(self, members) -> None:
        self.owner_id.choices = [SelectChoice(UNASSIGNED, "Unassigned")] + [
            SelectChoice(str(u.id), u.name) for u in members if u.active]

    def chosen_owner(self, members):
        return next((u for u in members if str(u.id) == self.owner_id.data), None)


class CloseForm(FlaskForm):
    outcome = RadioField("How it ends", default=ActionStatus.DONE.value, choices=[
        SelectChoice(ActionStatus.DONE.value, "Done — the fix is in place"),
        SelectChoice(ActionStatus.WONT_DO.value, "Won’t do")])
    note = TextAreaField(
        "Closing evidence or reason", validators=[Optional(), Length(max=10_000)],
        description="Done: what was done and where the proof is (a link, a document, a "
                    "ticket). Won’t do: why not.")
