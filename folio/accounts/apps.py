from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "folio.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from django.db.models.signals import post_migrate

        from folio.accounts.roles import ensure_role_groups

        post_migrate.connect(ensure_role_groups, sender=self)

        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from folio.accounts import limits

        post_migrate.connect(limits.create_cache_table, sender=self)
        user_login_failed.connect(limits.on_login_failed, dispatch_uid="folio-limits-failed")
        user_logged_in.connect(limits.on_logged_in, dispatch_uid="folio-limits-logged-in")

        from folio.accounts import signals

        signals.connect()
