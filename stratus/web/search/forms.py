from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from stratus.accounts import selectors as account_selectors
from stratus.accounts.models import Organization

MODES = (("meaning", _("By meaning")), ("words", _("By words")), ("both", _("Both")))
RECORD_TYPES = (
    ("contact", _("Contacts")),
    ("company", _("Companies")),
    ("deal", _("Deals")),
    ("activity", _("Activities and notes")),
    ("campaign", _("Campaigns")),
    ("document", _("Documents")),
)
QUERY_MAX_LENGTH = 500  # the API's limit (stratus.knowledge.api.MAX_QUERY_CHARS)


class SearchForm(forms.Form):
    q = forms.CharField(label=_("Search for"), max_length=QUERY_MAX_LENGTH, required=False)
    mode = forms.ChoiceField(label=_("Match"), choices=MODES, required=False, widget=forms.RadioSelect)
    type = forms.MultipleChoiceField(
        label=_("Record type"), choices=RECORD_TYPES, required=False, widget=forms.CheckboxSelectMultiple
    )
    owner = forms.TypedChoiceField(label=_("Owner"), coerce=int, required=False, empty_value=None)
    date_from = forms.DateField(
        label=_("Created from"), required=False, widget=forms.DateInput({"type": "date"})
    )
    date_to = forms.DateField(label=_("Created to"), required=False, widget=forms.DateInput({"type": "date"}))

    def __init__(self, data: Any, *, org: Organization) -> None:
        if data is not None and not data.get("mode"):
            data = data.copy()
            data["mode"] = "both"
        super().__init__(data)
        members = account_selectors.member_choices(org=org)
        owner = self.fields["owner"]
        assert isinstance(owner, forms.TypedChoiceField)
        owner.choices = [("", _("Anyone"))] + [(m.user_id, m.user.full_name or m.user.email) for m in members]
        self.fields["q"].widget.attrs.update({"type": "search", "autocomplete": "off"})

    def clean_mode(self) -> str:
        return str(self.cleaned_data.get("mode") or "both")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("Must not be before the “from” date."))
        return cleaned
