from django.contrib.auth.backends import ModelBackend


class EmailBackend(ModelBackend):
    """Log in by e-mail (case-insensitive); refuse blocked and unconfirmed accounts.

    ``get_user`` also calls ``user_can_authenticate``, so an open session of a person
    who is blocked stops working on their very next request.
    """

    def user_can_authenticate(self, user) -> bool:
        return super().user_can_authenticate(user) and user.can_log_in
