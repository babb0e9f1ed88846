"""Who owns layouts, sender identities and footers, declared to the permission
module at start-up (``ContentConfig.ready``)."""

from __future__ import annotations

from apps.content.models import FooterText, Layout, SenderIdentity
from apps.core import permissions
from apps.users.roles import OWNER_PERMISSIONS


def register() -> None:
    permissions.register(Layout, owner="owner", granted=OWNER_PERMISSIONS["layout"])
    permissions.register(
        SenderIdentity, owner="owner", granted=OWNER_PERMISSIONS["senderidentity"]
    )
    # A footer text is a setting of its owner alone: nobody else handles it, so the
    # owner needs no per-object permission row.
    permissions.register(
        FooterText,
        owner="owner",
        keeper="mailings.add_message",
        granted=["view_footertext", "change_footertext", "delete_footertext"],
        guarded=False,
    )
