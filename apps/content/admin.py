"""Content in the admin: layouts, sender identities and footers."""

# Layouts (HTML frames around messages, with their preview); sender identities
# (verified by a mailed link) and footers per language.
from apps.content import admin_layouts, admin_senders  # noqa: F401
