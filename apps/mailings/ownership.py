"""Who owns the mailing objects, declared to the permission module at start-up
(``MailingsConfig.ready``): the rules themselves live in ``apps.core.permissions``."""

from __future__ import annotations

from apps.core import permissions
from apps.mailings.models import (
    Attempt,
    Client,
    ClientImport,
    Delivery,
    Mailing,
    Message,
)
from apps.users.roles import OWNER_PERMISSIONS


def register() -> None:
    for model, name in ((Client, "client"), (Message, "message"), (Mailing, "mailing")):
        permissions.register(model, owner="owner", granted=OWNER_PERMISSIONS[name])
    # A run is its mailing's owner's; whoever adds mailings reads their runs.
    permissions.register(
        Attempt,
        owner="mailing__owner",
        keeper="mailings.add_mailing",
        granted=OWNER_PERMISSIONS["attempt"],
    )
    # The per-recipient ledger is seen with its run.
    permissions.register(Delivery, via="attempt")
    # An import job is its uploader's alone (its report quotes rows of their file):
    # not even managers see it.
    permissions.register(
        ClientImport,
        owner="owner",
        keeper="mailings.add_client",
        granted=["view_clientimport"],
        guarded=False,
    )
