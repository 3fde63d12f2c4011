"""Forms of the settings pages: they read the browser's input; the services apply the rules.

Limits match the API's serializers (stratus/accounts/api.py, stratus/crm/api.py), so the same
input is refused the same way through both; a service's refusal is shown beside its field.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from stratus.accounts.models import Role
from stratus.crm.models import CustomFieldEntity, CustomFieldType, StageKind
from stratus.crm.rules import TAG_NAME_MAX
from stratus.platform.errors import ApplicationError


class SettingsForm(forms.Form):
    """Marks each field with an error (``aria-invalid``, ``aria-describedby`` naming its message)."""

    def refuse(self, error: ApplicationError | str) -> None:
        """Show a service's refusal: each field error beside its field, the rest above the form."""
        if isinstance(error, str):
            self.add_error(None, error)
            return
        placed = False
        for field, messages in error.field_errors.items():
            name = field if field in self.fields else None
            for message in messages:
                self.add_error(name, message)
                placed = True
        if not placed:
            self.add_error(None, error.message)

    def mark_errors(self) -> SettingsForm:
        if self.is_bound:
            for name in self.errors:
                if name in self.fields:
                    self.fields[name].widget.attrs.update(
                        {"aria-invalid": "true", "aria-describedby": f"{self[name].auto_id}-error"}
                    )
        return self


class InviteForm(SettingsForm):
    email = forms.EmailField(label=_("E-mail"), max_length=254)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.MEMBER)


class RoleForm(SettingsForm):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class TokenForm(SettingsForm):
    name = forms.CharField(label=_("Name"), max_length=100)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.MEMBER)


def _choice_list(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


class CustomFieldForm(SettingsForm):
    entity = forms.ChoiceField(label=_("Record type"), choices=CustomFieldEntity.choices)
    key = forms.CharField(
        label=_("Key"),
        max_length=50,
        help_text=_("Lower-case letters, digits and _, starting with a letter."),
    )
    label = forms.CharField(label=_("Label"), max_length=100)
    field_type = forms.ChoiceField(label=_("Type"), choices=CustomFieldType.choices)
    choices = forms.CharField(
        label=_("Choices"),
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("For a choice field: one per line or separated by commas."),
    )
    required = forms.BooleanField(label=_("Required"), required=False)

    def clean_choices(self) -> list[str]:
        return _choice_list(self.cleaned_data.get("choices") or "")


class CustomFieldUpdateForm(SettingsForm):
    label = forms.CharField(label=_("Label"), max_length=100)
    choices = forms.CharField(
        label=_("Choices"), required=False, max_length=20_000, widget=forms.Textarea(attrs={"rows": 2})
    )
    required = forms.BooleanField(label=_("Required"), required=False)

    def clean_choices(self) -> list[str]:
        return _choice_list(self.cleaned_data.get("choices") or "")


class PipelineForm(SettingsForm):
    name = forms.CharField(label=_("Name"), max_length=100)


class StageForm(SettingsForm):
    name = forms.CharField(label=_("Name"), max_length=100)
    probability = forms.IntegerField(
        label=_("Win probability (%)"), min_value=0, max_value=100, required=False
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=StageKind.choices, initial=StageKind.OPEN)

    def values(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if data.get("probability") is None:
            data.pop("probability", None)
        return data


class StageOrderForm(SettingsForm):
    stage_ids = forms.CharField(max_length=10_000)

    def clean_stage_ids(self) -> list[int]:
        raw = self.cleaned_data["stage_ids"].replace(",", " ").split()
        try:
            ids = [int(value) for value in raw]
        except ValueError:
            raise forms.ValidationError(_("Expected stage ids.")) from None
        if any(not 0 < pk <= 2_147_483_647 for pk in ids):
            raise forms.ValidationError(_("Expected stage ids."))
        return ids


class StageDeleteForm(SettingsForm):
    move_deals_to = forms.IntegerField(
        label=_("Move its deals to"), required=False, min_value=1, max_value=2_147_483_647
    )


class TagForm(SettingsForm):
    name = forms.CharField(label=_("Name"), max_length=TAG_NAME_MAX)


class PositionForm(SettingsForm):
    position = forms.IntegerField(min_value=0, max_value=2_147_483_647)


class ExchangeRateForm(SettingsForm):
    """Codes and the rate are read as text: the service checks them (ISO 4217, rate > 0) and its
    refusals show beside each field, the same messages as the API's."""

    currency = forms.CharField(
        label=_("From currency"), max_length=3, help_text=_("ISO 4217 code, e.g. USD.")
    )
    currency_to = forms.CharField(
        label=_("To reporting currency"), max_length=3, help_text=_("ISO 4217 code, e.g. EUR.")
    )
    rate = forms.CharField(
        label=_("Rate"),
        max_length=30,
        help_text=_("How many units of the reporting currency one unit is worth, e.g. 0.9234."),
    )
    valid_from = forms.DateField(
        label=_("Valid from"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Applies from this day until the pair's next rate."),
    )

    def clean_currency(self) -> str:
        return str(self.cleaned_data["currency"]).strip().upper()

    def clean_currency_to(self) -> str:
        return str(self.cleaned_data["currency_to"]).strip().upper()

    def clean_rate(self) -> str:
        return str(self.cleaned_data["rate"]).strip()
