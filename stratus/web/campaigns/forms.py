"""Forms of the campaign pages: they read the browser's input; the campaign services apply the rules.

Limits match the API's serializers (stratus/campaigns/api.py), so the same input is refused the
same way through both; a service's refusal is shown beside its field.
"""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from stratus.campaigns.models import RecipientState
from stratus.web.settings.forms import SettingsForm

AUDIENCE_SAVED = "saved"
AUDIENCE_NEW = "new"


class CampaignForm(SettingsForm):
    name = forms.CharField(label=_("Name"), max_length=200)
    audience = forms.ChoiceField(
        label=_("Audience"),
        choices=((AUDIENCE_SAVED, _("A saved segment")), (AUDIENCE_NEW, _("New segment from filters"))),
        initial=AUDIENCE_SAVED,
        widget=forms.RadioSelect,
    )
    segment = forms.TypedChoiceField(label=_("Segment"), coerce=int, required=False, empty_value=None)
    segment_name = forms.CharField(label=_("Name of the new segment"), max_length=200, required=False)
    subject = forms.CharField(label=_("Subject"), max_length=300)
    body_text = forms.CharField(
        label=_("Plain-text body"), required=False, strip=False, widget=forms.Textarea(attrs={"rows": 10})
    )
    body_html = forms.CharField(
        label=_("HTML body (optional)"), required=False, strip=False, widget=forms.Textarea(attrs={"rows": 6})
    )
    from_name = forms.CharField(label=_("Sender name"), max_length=200, required=False)
    from_email = forms.EmailField(label=_("Sender e-mail"), required=False)
    reply_to = forms.EmailField(label=_("Reply-to"), required=False)
    track_opens = forms.BooleanField(label=_("Count opens"), required=False, initial=True)
    track_clicks = forms.BooleanField(label=_("Count clicks"), required=False, initial=True)

    CONTENT = (
        "name",
        "subject",
        "body_text",
        "body_html",
        "from_name",
        "from_email",
        "reply_to",
        "track_opens",
        "track_clicks",
    )

    def __init__(self, *args: Any, segments: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        segment_field = self.fields["segment"]
        assert isinstance(segment_field, forms.TypedChoiceField)
        segment_field.choices = [("", _("Choose a segment…")), *segments]
        for name in ("subject", "body_text", "body_html"):
            self.fields[name].widget.attrs["data-merge-target"] = ""
        self.fields["segment"].widget.attrs["data-testid"] = "segment-select"

    def content(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.CONTENT}


class ScheduleForm(forms.Form):
    when = forms.ChoiceField(
        label=_("When"),
        choices=(("now", _("Send now")), ("later", _("Schedule for later"))),
        initial="now",
        widget=forms.RadioSelect,
    )
    at = forms.DateTimeField(
        label=_("Send at (your time zone)"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("when") == "later":
            at: datetime.datetime | None = data.get("at")
            if at is None:
                self.add_error("at", _("Choose the date and time to send at."))
            elif at <= timezone.now():
                self.add_error("at", _("Choose a time in the future, or send now."))
        return data

    def mark_errors(self) -> ScheduleForm:
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs.update(
                    {"aria-invalid": "true", "aria-describedby": f"{self[name].auto_id}-error"}
                )
        return self


RECIPIENT_STATES = [("", _("Any state")), *RecipientState.choices]
