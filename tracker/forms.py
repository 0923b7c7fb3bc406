"""Shared form helpers."""

from wtforms import SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget


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
