"""Sign-in forms that stop password guessing (folio.accounts.limits)."""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from folio.accounts import limits


class _Limited:
    rate_limited = ""  # the message the login page shows instead of "didn't match"

    def clean(self):
        username = self.cleaned_data.get("username")
        wait = limits.login_wait(self.request, username)
        if wait:
            # Refused before the password is checked: a right guess must not show through.
            self.rate_limited = (
                "Too many failed sign-ins for this username or from your address. "
                f"Try again in {limits.minutes(wait)}."
            )
            raise forms.ValidationError(self.rate_limited, code="rate_limited")
        return super().clean()


class LoginForm(_Limited, AuthenticationForm):
    pass


class AdminLoginForm(_Limited, AdminAuthenticationForm):
    pass
