"""Plugins and connections of an account (create from a spec, test with sample
arguments, attach to a client) and a client's conversations with their tool calls.

Specs are typed as YAML or JSON, the manifest's ``spec``; a connection's secrets go in
and never come back (the page shows set/unset)."""

from __future__ import annotations

import json
from typing import Any

import yaml
from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.blueprints.admin.blueprint import bp
from app.blueprints.admin.common import attempt, get_or_404
from app.errors import InvalidInput
from app.extensions import db
from app.models import Account, ChatSession, Connection, LlmClient, Plugin
from app.services import conversations
from app.services import tools as service
from app.tools.specs import ConnectionSpec, PluginSpec


class SpecForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=64)])
    spec = TextAreaField("Spec (YAML or JSON)", validators=[DataRequired()], render_kw={"rows": 8})
    submit = SubmitField("Save")


class TestForm(FlaskForm):
    arguments = TextAreaField("Sample arguments (JSON)", default="{}", render_kw={"rows": 3})
    submit = SubmitField("Test")


class AttachPluginForm(FlaskForm):
    client = SelectField("Client", coerce=int)
    submit = SubmitField("Attach")


def _loaded(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InvalidInput(f"spec: not YAML or JSON ({type(error).__name__})") from None


def _save(form: SpecForm, save: Any) -> bool:
    """Run a save; its refusal goes next to the spec field (never echoing the spec)."""
    result = attempt(lambda: save(form.name.data or "", _loaded(form.spec.data or "")))
    return result is not None


@bp.get("/accounts/<int:account_id>/plugins")
def plugins(account_id: int) -> ResponseReturnValue:
    account = get_or_404(Account, account_id)
    return _plugins_page(account, SpecForm(prefix="plugin"), SpecForm(prefix="connection"))


def _plugins_page(account: Account, plugin_form: SpecForm, connection_form: SpecForm) -> str:
    return render_template(
        "admin/plugins.html",
        account=account,
        plugins=service.list_plugins(account.id),
        connections=[(c, service.connection_spec(c)) for c in service.list_connections(account.id)],
        plugin_form=plugin_form,
        connection_form=connection_form,
    )


@bp.post("/accounts/<int:account_id>/plugins")
def plugin_save(account_id: int) -> ResponseReturnValue:
    account = get_or_404(Account, account_id)
    form = SpecForm(prefix="plugin")
    if form.validate_on_submit():

        def save(name: str, data: Any) -> Plugin:
            return service.apply_plugin(account, name, service.parse(PluginSpec, data))[0]

        if _save(form, save):
            plugin = service.get_plugin(account.id, form.name.data or "")
            flash(f"Plugin {plugin.name} saved.", "success")
            return redirect(url_for("admin.plugin", plugin_id=plugin.id))
    return _plugins_page(account, form, SpecForm(prefix="connection")), 400


@bp.post("/accounts/<int:account_id>/connections")
def connection_save(account_id: int) -> ResponseReturnValue:
    account = get_or_404(Account, account_id)
    form = SpecForm(prefix="connection")
    if form.validate_on_submit():

        def save(name: str, data: Any) -> Connection:
            spec = service.parse(ConnectionSpec, data)
            return service.apply_connection(account, name, spec)[0]

        if _save(form, save):
            flash(f"Connection {form.name.data} saved.", "success")
            return redirect(url_for("admin.plugins", account_id=account.id))
    form.spec.data = ""  # never sent back: it may hold a secret
    return _plugins_page(account, SpecForm(prefix="plugin"), form), 400


@bp.get("/plugins/<int:plugin_id>")
def plugin(plugin_id: int) -> ResponseReturnValue:
    return _plugin_page(get_or_404(Plugin, plugin_id), TestForm(), None)


def _plugin_page(found: Plugin, test_form: TestForm, result: dict[str, Any] | None) -> str:
    attach_form = AttachPluginForm()
    clients = db.session.query(LlmClient).filter_by(account_id=found.account_id).all()
    attach_form.client.choices = [(c.id, c.name) for c in clients]
    attached = [c for c in clients if found in c.plugins]
    return render_template(
        "admin/plugin.html",
        plugin=found,
        spec=yaml.safe_dump(service.plugin_spec(found), sort_keys=False),
        test_form=test_form,
        attach_form=attach_form,
        attached=attached,
        result=result,
    )


@bp.post("/plugins/<int:plugin_id>/test")
def plugin_test(plugin_id: int) -> ResponseReturnValue:
    found = get_or_404(Plugin, plugin_id)
    form = TestForm()
    result = None
    if form.validate_on_submit():
        try:
            arguments = json.loads(form.arguments.data or "{}")
        except ValueError:
            arguments = None
        if isinstance(arguments, dict):
            result = service.test_plugin(found, arguments)
        else:
            form.arguments.errors = ['a JSON object, e.g. {"order_id": 7}']
    return _plugin_page(found, form, result)


@bp.post("/plugins/<int:plugin_id>/attach")
def plugin_attach(plugin_id: int) -> ResponseReturnValue:
    found = get_or_404(Plugin, plugin_id)
    form = AttachPluginForm()
    form.client.choices = [
        (c.id, c.name) for c in db.session.query(LlmClient).filter_by(account_id=found.account_id)
    ]
    if form.validate_on_submit():
        client = get_or_404(LlmClient, form.client.data or 0)
        names = sorted({p.name for p in client.plugins} | {found.name})
        attempt(
            lambda: service.set_client_tools(client, plugins=names), f"Attached to {client.name}."
        )
    return redirect(url_for("admin.plugin", plugin_id=found.id))


@bp.get("/clients/<int:client_id>/conversations")
def conversations_list(client_id: int) -> ResponseReturnValue:
    client = get_or_404(LlmClient, client_id)
    return render_template(
        "admin/conversations.html", client=client, sessions=conversations.recent_sessions(client.id)
    )


@bp.get("/conversations/<int:session_id>")
def conversation(session_id: int) -> ResponseReturnValue:
    session = db.session.get(ChatSession, session_id)
    if session is None:
        abort(404)
    client = get_or_404(LlmClient, session.client_id)
    return render_template(
        "admin/conversation.html",
        client=client,
        session=session,
        turns=conversations.session_turns(session),
    )
