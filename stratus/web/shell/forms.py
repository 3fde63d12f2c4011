from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from stratus.accounts.services import FULL_NAME_MAX_LENGTH


class NameForm(forms.Form):
    full_name = forms.CharField(label=_("Name"), max_length=FULL_NAME_MAX_LENGTH, required=False)
    full_name.widget.attrs.update({"autocomplete": "name"})


class PasswordForm(forms.Form):
    current_password = forms.CharField(
        label=_("Current password"), strip=False, widget=forms.PasswordInput, max_length=128
    )
    new_password = forms.CharField(
        label=_("New password"), strip=False, widget=forms.PasswordInput, max_length=128
    )
    current_password.widget.attrs.update({"autocomplete": "current-password"})
    new_password.widget.attrs.update({"autocomplete": "new-password"})


class ReminderEmailsForm(forms.Form):
    email_reminders = forms.BooleanField(label=_("E-mail me my reminders when they fire"), required=False)


class SearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), max_length=200, required=False)
