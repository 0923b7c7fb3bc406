from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired


class LibraryImportForm(FlaskForm):
    file = FileField(
        "Library file", validators=[FileRequired("Choose a file to import.")],
        description="YAML (.yaml, as in seeds/library, one document per domain) or CSV (.csv) "
                    "replaces the library; an OSCAL catalog (.json) adds its groups and controls.",
    )
