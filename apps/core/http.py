"""Request types for annotations.

Django's ``HttpRequest.user`` is "a user or AnonymousUser". Behind the admin's login
(and ``login_required``) it is always a signed-in person: views and admin methods
that run only there take an ``AuthenticatedHttpRequest`` so that ``request.user`` is
a ``User`` without a check at every use. Django still builds plain ``HttpRequest``
objects; this class only tells the type checker what the login already guarantees.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from apps.users.models import User


class AuthenticatedHttpRequest(HttpRequest):
    user: User
