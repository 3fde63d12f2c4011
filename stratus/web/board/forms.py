"""Input of the pipeline board and of my tasks, checked like the API's serializers check it."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from stratus.api.serializers import ID_MAX, ID_MIN

# The deal list's query parameters (the API's names) that the board filters on.
BOARD_FILTERS = ("owner", "tag", "expected_close_after", "expected_close_before")


class MoveForm(forms.Form):
    """A deal's move, as the API's move takes it: a stage and, for a lost stage, why."""

    stage = forms.IntegerField(label=_("Stage"), min_value=ID_MIN, max_value=ID_MAX)
    lost_reason = forms.CharField(label=_("Why was it lost?"), required=False, max_length=10_000)


class RescheduleForm(forms.Form):
    """A task's new due time, typed in the server's time zone (``TIME_ZONE``); Django makes it aware."""

    due_at = forms.DateTimeField(
        label=_("New due time"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        error_messages={"required": _("Give the new due time."), "invalid": _("Enter a date and time.")},
    )
