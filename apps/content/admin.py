"""Content in the admin: layouts, sender identities and footers."""

# Sender identities (verified by a mailed link) and footers per language.
from apps.content import admin_senders  # noqa: F401
