"""The chat blueprint object, apart from its package so that the routes can declare
their views on it without importing the package that imports them."""

from flask import Blueprint

bp = Blueprint("chat", "app.blueprints.chat", template_folder="templates")
