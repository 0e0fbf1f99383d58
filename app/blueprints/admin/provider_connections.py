"""An account's provider connections in the console: add or change one (the key is
write-only: typed in, never shown again), delete one no client uses. The same service
as the ProviderConnection manifest kind, so the same rules (network guard on the base
URL, names, the key sealed)."""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from app.blueprints.admin.blueprint import bp
from app.blueprints.admin.common import attempt, get_or_404
from app.models import Account
from app.services import provider_connections as service
from app.services import tools


class ProviderConnectionForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=63)])
    type = SelectField(
        "Type", choices=[("openai", "OpenAI-compatible"), ("anthropic", "Anthropic")]
    )
    base_url = StringField(
        "Base URL", description="Empty: the provider's own API (e.g. https://vllm.example/v1)."
    )
    api_key = PasswordField("API key", description="Empty keeps the current key.")
    models = StringField("Own models", description="Comma-separated, beyond the catalog's.")
    submit = SubmitField("Save connection")


def _spec(form: ProviderConnectionForm) -> service.ConnectionSpec:
    values: dict[str, object] = {
        "type": form.type.data,
        "base_url": (form.base_url.data or "").strip(),
        "models": [m.strip() for m in (form.models.data or "").split(",") if m.strip()],
    }
    if form.api_key.data:
        values["api_key"] = form.api_key.data
    return tools.parse(service.ConnectionSpec, values)  # the plugin forms' message shape


@bp.post("/accounts/<int:account_id>/provider-connections")
def provider_connection_save(account_id: int) -> ResponseReturnValue:
    account = get_or_404(Account, account_id)
    form = ProviderConnectionForm()
    if not form.validate_on_submit():
        flash("A provider connection needs a name and a type.", "danger")
    else:
        name = (form.name.data or "").strip()
        saved = attempt(lambda: service.save_connection(account, name, _spec(form)))
        if saved is not None:
            flash(f"Provider connection {name} saved.", "success")
    return redirect(url_for("admin.account", account_id=account.id, _anchor="provider-connections"))


@bp.post("/accounts/<int:account_id>/provider-connections/<name>/delete")
def provider_connection_delete(account_id: int, name: str) -> ResponseReturnValue:
    account = get_or_404(Account, account_id)

    def delete() -> bool:
        service.delete_connection(account, name)
        return True

    if attempt(delete):
        flash(f"Provider connection {name} deleted.", "success")
    return redirect(url_for("admin.account", account_id=account.id, _anchor="provider-connections"))
