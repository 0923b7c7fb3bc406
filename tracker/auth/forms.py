from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, Length, Optional


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    remember = BooleanField("Keep me signed in on this device")
    next = HiddenField()


class EmptyForm(FlaskForm):
    """CSRF token only: behind every POST button."""


class UserCreateForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    password = PasswordField("Initial password", validators=[DataRequired(), Length(max=128)],
                             description="At least 8 characters. Share it with the person "
                                         "privately; they can change it.")
    is_admin = BooleanField("Admin (manages users, teams and the library)")
    is_auditor = BooleanField("Auditor (reviews and signs off audits)")


class UserRolesForm(FlaskForm):
    is_admin = BooleanField("Admin")
    is_auditor = BooleanField("Auditor")


class PasswordResetForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(max=128)],
                             description="At least 8 characters. The user's other sessions end.")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    password = PasswordField("New password", validators=[DataRequired(), Length(max=128)],
                             description="At least 8 characters; your other sessions end.")


class TeamForm(FlaskForm):
    name = StringField("Team name", validators=[DataRequired(), Length(max=120)])
    description = StringField("Description", validators=[Optional(), Length(max=500)])


class MembershipForm(FlaskForm):
    user_id = SelectField("Person", coerce=int, validators=[DataRequired()])
    role = SelectField("Role", choices=[SelectChoice("operator", "Operator"),
                                        SelectChoice("lead", "Lead")])


class TokenForm(FlaskForm):
    name = StringField("Token name", validators=[DataRequired(), Length(max=80)],
                       description="What the token is for, e.g. “monitoring job”.")
