"""The dashboard's forms: the pickers (read as the reports read them) and a dashboard's layout."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from stratus.web.models import DASHBOARD_CHARTS


class DashboardForm(forms.Form):
    """A dashboard's name, charts and sharing; the service checks them (its errors go beside the
    fields), so the form only carries what was typed."""

    name = forms.CharField(label=_("Name"), required=False, max_length=200)
    charts = forms.MultipleChoiceField(
        label=_("Charts"),
        required=False,
        choices=list(DASHBOARD_CHARTS.items()),
        widget=forms.CheckboxSelectMultiple,
    )
    shared = forms.BooleanField(label=_("Share with the organization"), required=False)
