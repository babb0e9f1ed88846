from django.db import migrations

# Frozen copy: migrations must not follow later edits of apps.users.roles.
GROUP_PERMISSIONS = {
    "Users": ["mailings.add_client", "mailings.add_message", "mailings.add_mailing"],
    "Managers": [
        "mailings.view_client",
        "mailings.view_message",
        "mailings.view_mailing",
        "mailings.view_attempt",
        "mailings.view_delivery",
        "mailings.toggle_mailing",
        "users.view_user",
        "users.block_user",
    ],
    "Content editors": [
        "blog.add_post",
        "blog.change_post",
        "blog.delete_post",
        "blog.view_post",
    ],
}


def create_groups(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally made after all migrations; make them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in GROUP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for dotted in perms:
            app_label, codename = dotted.split(".")
            group.permissions.add(
                Permission.objects.get(
                    content_type__app_label=app_label, codename=codename
                )
            )


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUP_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("users", "0001_initial"),
        ("mailings", "0001_initial"),
        ("blog", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
