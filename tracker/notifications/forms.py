"""The admin's webhook endpoint form."""

from flask_wtf import FlaskForm
from wtforms import SelectChoice, URLField
from wtforms.validators import DataRequired, Length

from tracker.forms import MultiCheckboxField
from tracker.notifications.payloads import SUBSCRIBABLE


class WebhookEndpointForm(FlaskForm):
    url = URLField("URL", validators=[DataRequired(message="Enter the endpoint's URL."),
                                      Length(max=500)],
                   description="Where the events are POSTed, e.g. "
                               "https://hooks.example.com/readiness.")
    events = MultiCheckboxField(
        "Events", choices=[SelectChoice(e.type, f"{e.type} — {e.summary}") for e in SUBSCRIBABLE],
        validators=[DataRequired(message="Choose at least one event.")])
