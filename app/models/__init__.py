"""All models, imported here so Alembic and the app see every table."""

from app.models.account import Account, generate_account_number
from app.models.api_key import ApiKey, api_key_clients
from app.models.audit import AuditEvent
from app.models.chat import ChatMessage, ChatSession
from app.models.client import DeploymentStatus, LlmClient, ResourceStatus
from app.models.data_migration import DataMigration
from app.models.domain import CustomDomain, DomainStatus
from app.models.llm_model import LlmModel
from app.models.membership import (
    AccountInvitation,
    AccountMember,
    IdempotentRequest,
    MemberRole,
    PersonalAccessToken,
)
from app.models.notification import Notification
from app.models.provider_connection import CONNECTION_TYPES, ProviderConnection
from app.models.routing import RoutingVersion
from app.models.run import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    InfraRun,
    RunKind,
    RunStatus,
    StoredPlan,
)
from app.models.tool import Connection, Plugin, ToolCallRecord, client_plugins
from app.models.usage import UsageDaily
from app.models.user import AdminUser

__all__ = [
    "ACTIVE_STATUSES",
    "CONNECTION_TYPES",
    "FINAL_STATUSES",
    "Account",
    "AccountInvitation",
    "AccountMember",
    "AdminUser",
    "ApiKey",
    "AuditEvent",
    "ChatMessage",
    "ChatSession",
    "Connection",
    "CustomDomain",
    "DataMigration",
    "DeploymentStatus",
    "DomainStatus",
    "IdempotentRequest",
    "InfraRun",
    "LlmClient",
    "LlmModel",
    "MemberRole",
    "Notification",
    "PersonalAccessToken",
    "Plugin",
    "ProviderConnection",
    "ResourceStatus",
    "RoutingVersion",
    "RunKind",
    "RunStatus",
    "StoredPlan",
    "ToolCallRecord",
    "UsageDaily",
    "api_key_clients",
    "client_plugins",
    "generate_account_number",
]
