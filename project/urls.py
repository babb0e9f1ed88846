from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

from apps.blog.views import image_upload
from apps.core.admin import view_on_site
from apps.core.views import admin_search, healthz
from apps.deliverability.admin_views import urls as report_urls
from apps.users.account_views import logout_view

# Under /api/ a refused request is answered in the API's error format.
handler400 = "apps.api.views.bad_request"
handler404 = "apps.api.views.not_found"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    # Django's "view on site" redirect would reveal whether any object id exists.
    path(
        "admin/r/<int:content_type_id>/<path:object_id>/",
        admin.site.admin_view(view_on_site),
    ),
    path("admin/search/", admin.site.admin_view(admin_search)),
    # A typed /admin/logout/ gets a page with a button, not Django's bare 405.
    path("admin/logout/", logout_view),
    path("admin/reports/", include((report_urls(), "reports"), namespace="reports")),
    path("admin/", admin.site.urls),
    # Before the library's own route: uploads are for content editors only.
    path("ckeditor5/image_upload/", image_upload, name="ck_editor_5_upload_file"),
    path("ckeditor5/", include("django_ckeditor_5.urls")),
    path("accounts/", include("apps.users.urls")),
    path("api/v1/", include("apps.api.urls")),
    path("unsubscribe/", include("apps.mailings.urls")),
    path("subscribe/", include("apps.audiences.urls_public")),
    path("webhooks/", include("apps.deliverability.webhooks")),
    path("t/", include("apps.deliverability.urls_tracking")),
    path("blog/", include("apps.blog.urls")),
    path("", include("apps.content.urls")),
    path("", include("apps.home.urls")),
]
if settings.SERVE_MEDIA:
    # Uploaded blog images; a front proxy can serve MEDIA_ROOT instead (docs/deploy.md).
    urlpatterns += [
        re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
    ]
