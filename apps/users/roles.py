"""The three groups and their model permissions.

Users hold only "add" at model level; view/change/delete on their own objects come as
object permissions (django-guardian) given when each object is created.
"""

USERS = "Users"
MANAGERS = "Managers"
EDITORS = "Content editors"

GROUP_PERMISSIONS: dict[str, list[str]] = {
    USERS: [
        "mailings.add_client",
        "mailings.add_message",
        "mailings.add_mailing",
        "audiences.add_clientlist",
        "audiences.add_segment",
        "audiences.add_suppression",
        "content.add_layout",
        "content.add_senderidentity",
    ],
    MANAGERS: [
        "mailings.view_client",
        "mailings.view_message",
        "mailings.view_mailing",
        "mailings.view_attempt",
        "mailings.view_delivery",
        "mailings.toggle_mailing",
        "audiences.view_clientlist",
        "audiences.view_subscription",
        "audiences.view_segment",
        "audiences.view_suppression",
        "audiences.manage_sitewide_suppression",
        "content.view_layout",
        "content.view_senderidentity",
        "users.view_user",
        "users.block_user",
    ],
    EDITORS: [
        "blog.add_post",
        "blog.change_post",
        "blog.delete_post",
        "blog.view_post",
    ],
}

# What the owner of each object gets on it, as object permissions.
OWNER_PERMISSIONS: dict[str, list[str]] = {
    "client": ["view_client", "change_client", "delete_client"],
    "message": ["view_message", "change_message", "delete_message"],
    "mailing": ["view_mailing", "change_mailing", "delete_mailing"],
    "attempt": ["view_attempt"],
    "clientlist": ["view_clientlist", "change_clientlist", "delete_clientlist"],
    "segment": ["view_segment", "change_segment", "delete_segment"],
    # Deleting is further limited to the owner's manual entries (the admin asks).
    "suppression": ["view_suppression", "delete_suppression"],
    "layout": ["view_layout", "change_layout", "delete_layout"],
    "senderidentity": [
        "view_senderidentity",
        "change_senderidentity",
        "delete_senderidentity",
    ],
}
