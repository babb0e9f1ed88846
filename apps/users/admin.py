from django.contrib import admin
from django.contrib.auth.models import Group
from unfold.admin import ModelAdmin

from apps.users.models import User

admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(ModelAdmin):
    search_fields = ["name"]
    filter_horizontal = ["permissions"]


@admin.register(User)
class UserAdmin(ModelAdmin):
    list_display = [
        "email",
        "first_name",
        "last_name",
        "email_confirmed",
        "is_blocked",
        "is_staff",
        "date_joined",
    ]
    list_filter = ["is_blocked", "email_confirmed", "is_staff", "groups"]
    search_fields = ["email", "first_name", "last_name"]
    ordering = ["email"]
    exclude = ["password"]
