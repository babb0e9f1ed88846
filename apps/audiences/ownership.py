"""Who owns the audience objects, declared to the permission module at start-up
(``AudiencesConfig.ready``): the rules themselves live in ``apps.core.permissions``."""

from __future__ import annotations

from apps.audiences.models import ClientList, Segment, Subscription, Suppression
from apps.core import permissions
from apps.users.roles import OWNER_PERMISSIONS


def register() -> None:
    for model, name in ((ClientList, "clientlist"), (Segment, "segment")):
        permissions.register(model, owner="owner", granted=OWNER_PERMISSIONS[name])
    # A membership is seen with its list.
    permissions.register(Subscription, via="client_list")
    # An owner's suppressions are theirs alone and never handed to anyone else, so
    # no object-permission rows: owning one is enough. Site-wide entries (no owner)
    # are the managers' (`manage_sitewide_suppression`).
    permissions.register(
        Suppression,
        owner="owner",
        keeper="audiences.add_suppression",
        granted=OWNER_PERMISSIONS["suppression"],
        guarded=False,
    )
