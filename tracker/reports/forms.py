"""The "Verify a report" upload."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired


class VerifyReportForm(FlaskForm):
    report = FileField(
        "Report PDF",
        validators=[FileRequired("Choose the report PDF to check.")],
        description="The signed report exactly as it was downloaded. Nothing is stored.",
    )
