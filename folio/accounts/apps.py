from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "folio.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from django.db.models.signals import post_migrate

        from folio.accounts.roles import ensure_role_groups

        post_migrate.connect(ensure_role_groups, sender=self)
