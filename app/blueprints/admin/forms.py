"""The console's forms (Flask-WTF: every form carries a CSRF token).

Field rules live in the services (``ClientSpec`` and friends); these forms only shape the
input, and :func:`attach_errors` puts the services' messages next to the right fields.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    FloatField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, Optional

from app.domains.publish import appearance_of
from app.errors import InvalidInput
from app.llm.registry import PROVIDER_NAMES


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired()])
    remember = BooleanField("Keep me signed in")
    submit = SubmitField("Sign in")


class AccountForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    # Checked by the accounts service (one rule for the CLI and the console).
    contact_email = EmailField("Contact email", description="Receives notifications.")
    submit = SubmitField("Create account")


class ClientForm(FlaskForm):
    name = StringField(
        "Name",
        validators=[DataRequired(), Length(max=63)],
        description="A DNS label: lower-case letters, digits, inner hyphens. Fixed once made.",
    )
    provider = SelectField("Provider", choices=[(p, p) for p in PROVIDER_NAMES])
    # "provider/name", or "" for the chosen provider's default; see set_model_choices.
    # The service checks the choice (one rule for the CLI and the console: its message
    # names the valid models), so the select does not refuse values on its own.
    model = SelectField(
        "Model",
        choices=[],
        validate_choice=False,
        description="From the catalog; deprecated models are not offered.",
    )
    system_prompt = TextAreaField("System prompt", render_kw={"rows": 4})
    temperature = FloatField("Temperature", default=0.7, validators=[Optional()])
    max_tokens = IntegerField("Max tokens", default=1024, validators=[Optional()])
    timeout_seconds = IntegerField(
        "Deadline (seconds)",
        default=0,
        validators=[Optional()],
        description="How long the model may take to answer; 0: the platform's default.",
    )
    require_api_key = BooleanField("Require an API key")
    allowed_origins = TextAreaField(
        "Allowed origins",
        render_kw={"rows": 2},
        description="One per line, e.g. https://www.example.com: the sites that may call "
        "the client from a browser and embed its widget.",
    )
    # Publishing: the chat page and widget (docs/publish.md).
    display_name = StringField("Display name", description="Shown on the chat page and widget.")
    welcome_message = TextAreaField("Welcome message", render_kw={"rows": 2})
    example_prompts = TextAreaField(
        "Example prompts", render_kw={"rows": 3}, description="One per line, at most 6."
    )
    placeholder = StringField("Placeholder", description="The message box's hint.")
    logo_url = StringField("Logo URL", description="An https:// image URL.")
    accent_color = StringField("Accent colour", default="#2563eb", description="#rrggbb")
    identity = SelectField(
        "Widget visitors",
        choices=[
            ("off", "anonymous"),
            ("optional", "identified when the site identifies them"),
            ("required", "identified users only"),
        ],
        default="off",
        validate_choice=False,  # the service checks it (one message for every entry point)
        description="Identified users are verified with the identity secret (HMAC).",
    )
    submit = SubmitField("Save")

    def show_appearance(self, stored: dict[str, Any] | None) -> None:
        """Fill the presentation fields from a client's stored appearance."""
        looks = appearance_of(stored)
        for name in APPEARANCE_FIELDS:
            getattr(self, name).data = getattr(looks, name)
        self.example_prompts.data = "\n".join(looks.example_prompts)

    def set_model_choices(self, grouped: dict[str, list[Any]], current: Any = None) -> None:
        """Offer the catalog's models grouped by provider (``current``: a client's model,
        selected when the form is first shown)."""
        choices: dict[str, list[tuple[str, str]]] = {"": [("", "the provider's default model")]}
        for provider, models in grouped.items():
            choices[provider] = [
                (
                    f"{m.provider}/{m.name}",
                    m.name
                    + (" (default)" if m.is_default else "")
                    + (" (deprecated)" if m.deprecated else ""),
                )
                for m in models
            ]
        self.model.choices = choices
        if current is not None and not self.is_submitted():
            self.model.data = f"{current.provider}/{current.name}"

    def spec_fields(self) -> dict[str, Any]:
        origins = [o.strip() for o in (self.allowed_origins.data or "").splitlines() if o.strip()]
        chosen = (self.model.data or "").strip()
        provider, _, model = chosen.rpartition("/")
        return {
            "name": (self.name.data or "").strip(),
            # A model chosen implies its provider; else the provider's default model.
            "provider": provider or self.provider.data,
            "model": model,
            "system_prompt": self.system_prompt.data or "",
            "temperature": self.temperature.data,
            "max_tokens": self.max_tokens.data,
            "timeout_seconds": self.timeout_seconds.data,
            "require_api_key": bool(self.require_api_key.data),
            "allowed_origins": origins,
            "appearance": {
                **{
                    name: value
                    for name in APPEARANCE_FIELDS
                    if (value := (getattr(self, name).data or "").strip())
                },
                "example_prompts": (self.example_prompts.data or "").splitlines(),
            },
            "identity": self.identity.data or "off",
        }


APPEARANCE_FIELDS = ("display_name", "welcome_message", "placeholder", "logo_url", "accent_color")


class ApiKeyForm(FlaskForm):
    label = StringField("Label", validators=[Length(max=200)])
    clients = SelectMultipleField(
        "Limit to clients", coerce=int, description="None selected: every client of the account."
    )
    expires_in_days = IntegerField(
        "Expires in (days)", validators=[Optional(), NumberRange(1, 3650)]
    )
    submit = SubmitField("Create key")


class DomainForm(FlaskForm):
    domain = StringField("Domain", validators=[DataRequired()], description="e.g. api.example.com")
    auto_approve = BooleanField("Apply the zone's plan without review")
    submit = SubmitField("Add domain")


class AccountDomainForm(DomainForm):
    """The Domains page's form: the same, for an account chosen there."""

    account = SelectField("Account", coerce=int)


class AttachForm(FlaskForm):
    client = SelectField("Client", coerce=int)
    submit = SubmitField("Attach")


class DeployForm(FlaskForm):
    auto_approve = BooleanField("Apply without review")
    submit = SubmitField("Deploy")


class ActionForm(FlaskForm):
    """A button: the CSRF token is the whole form."""

    submit = SubmitField("Confirm")


def attach_errors(form: FlaskForm, error: InvalidInput) -> None:
    """Put a service's validation errors next to their fields (else on the form)."""
    placed = False
    for detail in error.details or []:
        loc = tuple(detail.get("loc") or ())
        if loc[:1] == ("appearance",):  # the presentation's fields are the form's own
            loc = loc[1:]
        field = getattr(form, str(loc[0]), None) if loc else None
        if field is not None and hasattr(field, "errors"):
            field.errors = [*list(field.errors), detail.get("msg", "")]
            placed = True
    if not placed:
        form.form_errors.append(error.message)


class TokenForm(FlaskForm):
    label = StringField("Label", validators=[Optional(), Length(max=200)])
    expires_in_days = IntegerField(
        "Expires in (days)", default=90, validators=[DataRequired(), NumberRange(1, 365)]
    )
    submit = SubmitField("Create token")


class AcceptInvitationForm(FlaskForm):
    # Checked by the members service: required for a new user, ignored for an existing one.
    password = PasswordField("Choose a password", validators=[Optional(), Length(max=200)])
    confirm = PasswordField(
        "Repeat the password",
        validators=[EqualTo("password", message="the two passwords differ: type it again")],
    )
    submit = SubmitField("Join the account")


ROLE_CHOICES = [("member", "member"), ("owner", "owner")]


class InviteForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    role = SelectField("Role", choices=ROLE_CHOICES)
    submit = SubmitField("Invite")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)
    submit = SubmitField("Change role")


class BudgetForm(FlaskForm):
    monthly_tokens = IntegerField(
        "Monthly token budget",
        validators=[Optional(), NumberRange(0, 10**15)],
        description="Prompt + completion tokens per calendar month (UTC); empty or 0: none.",
    )
    submit = SubmitField("Save budget")


class RateLimitForm(FlaskForm):
    requests_per_minute = IntegerField(
        "Requests per minute",
        validators=[Optional(), NumberRange(0, 2**31 - 1)],
        description="Empty or 0: none.",
    )
    tokens_per_minute = IntegerField(
        "Tokens per minute",
        validators=[Optional(), NumberRange(0, 2**31 - 1)],
        description="Empty or 0: none.",
    )
    submit = SubmitField("Save limits")
