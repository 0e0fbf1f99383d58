"""The management API's routes, by resource: each one access check and one service
call. Imported in this order, which is the OpenAPI document's order."""

from app.blueprints.management import (  # noqa: F401  (declare the views)
    routes_accounts,
    routes_clients,
    routes_infra,
    routes_manifests,
    routes_tools,
)
