"""``flask models notify-deprecated``: tell each account once about each deprecated model
its clients still use, before the model is removed."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.extensions import db
from app.models import Account, LlmModel, Notification
from app.services.llm_models import successor, usage
from app.services.notifications import deliver, notify

NOTICE_KIND = "model.deprecated"


def dedupe_key(model: LlmModel) -> str:
    return f"model-deprecated:{model.provider}/{model.name}"


@dataclass
class DeprecationNotices:
    sent: list[Notification] = field(default_factory=list)
    already_told: list[tuple[Account, LlmModel]] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [
            f"told {n.account.account_number} about {n.data['model']}: "
            f"{', '.join(n.data['clients'])}"
            for n in self.sent
        ]
        lines += [
            f"{account.account_number} already told about {model.provider}/{model.name}"
            for account, model in self.already_told
        ]
        return lines or ["no client uses a deprecated model: nobody to tell"]


def notify_deprecated() -> DeprecationNotices:
    """One notice per account and deprecated model in use; never twice for the same model."""
    clients: dict[tuple[LlmModel, Account], list[str]] = {}
    for row in usage(deprecated_only=True):
        clients.setdefault((row.model, row.account), []).append(row.client.name)
    result = DeprecationNotices()
    for (model, account), names in clients.items():
        target = successor(model)
        notice = notify(
            account,
            NOTICE_KIND,
            f"Model {model.name} is deprecated: your clients will move to {target.name}",
            f"{model.provider}/{model.name} will be retired by its provider. These clients "
            "use it:\n"
            + "\n".join(f"  - {name}" for name in names)
            + f"\n\nThey keep working until it is removed; then they move to {target} "
            "automatically.",
            data={
                "model": f"{model.provider}/{model.name}",
                "replacement": str(target),
                "clients": names,
            },
            dedupe_key=dedupe_key(model),
        )
        if notice is None:
            result.already_told.append((account, model))
        else:
            result.sent.append(notice)
    db.session.commit()
    deliver(result.sent)
    return result
