from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField
from wtforms.validators import DataRequired


class LibraryImportForm(FlaskForm):
    file = FileField(
        "Library file", validators=[FileRequired("Choose a file to import.")],
        description="YAML (.yaml, as in seeds/library), CSV (.csv) or a workbook (.xlsx) "
                    "replaces the library; an OSCAL catalog (.json or .yaml) adds its groups "
                    "and controls in a namespace of its own. You see what will change before "
                    "anything does.",
    )


class LibraryConfirmForm(FlaskForm):
    """The previewed file, carried back with the digest of the changes that were shown."""

    filename = HiddenField(validators=[DataRequired()])
    payload = HiddenField(validators=[DataRequired()])
    digest = HiddenField(validators=[DataRequired()])
