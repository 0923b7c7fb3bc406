"""Shared form helpers."""

from flask_login import current_user
from wtforms import SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget

from tracker.extensions import db
from tracker.rules import RuleViolation


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (rendered as <ul class="checks">)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def attach_error(form, field_name: str | None, message: str) -> None:
    """Show a service's refusal next to the field it concerns (or above the form)."""
    field = getattr(form, field_name, None) if field_name else None
    if field is not None and hasattr(field, "errors"):
        if not isinstance(field.errors, list):
            field.errors = list(field.errors)
        field.errors.append(message)
    else:
        form.form_errors.append(message)


REFUSED = object()


def attempt(form, action, *args, **kwargs):
    """Call a service as the current user for a validated form, and commit; on a refusal roll
    back and put the message next to its field. Returns the service's result, or REFUSED."""
    try:
        result = action(current_user, *args, **kwargs)
    except RuleViolation as exc:
        db.session.rollback()
        attach_error(form, exc.field, exc.message)
        return REFUSED
    db.session.commit()
    return result
