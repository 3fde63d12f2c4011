from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class LoginForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"), max_length=254)
    password = forms.CharField(label=_("Password"), strip=False, widget=forms.PasswordInput, max_length=128)
    email.widget.attrs.update({"autocomplete": "username", "autofocus": True})
    password.widget.attrs.update({"autocomplete": "current-password"})
