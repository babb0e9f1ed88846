"""django-q2 tasks: thin functions that take ids and call the sending engine.

(The engine is built in apps/mailings/sending.py.)
"""

from __future__ import annotations


def run_mailing(mailing_id: int) -> None:
    raise NotImplementedError("the sending engine is not built yet")
