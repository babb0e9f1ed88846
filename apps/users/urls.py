from django.urls import path

from apps.users import account_views, views

app_name = "users"
urlpatterns = [
    path("settings/", account_views.settings_view, name="settings"),
    path("register/", views.RegisterView.as_view(), name="register"),
    path("register/done/", views.RegisterDoneView.as_view(), name="register_done"),
    path(
        "confirm/resend/",
        views.ResendConfirmationView.as_view(),
        name="resend_confirmation",
    ),
    path("confirm/resend/done/", views.ResendDoneView.as_view(), name="resend_done"),
    path(
        "confirm/<str:uidb64>/<str:token>/",
        views.ConfirmEmailView.as_view(),
        name="confirm",
    ),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/done/",
        views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password-reset/<str:uidb64>/<str:token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/complete/",
        views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]
