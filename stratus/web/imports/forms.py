"""Forms of the import wizard: they read the browser's input; the import services apply the rules
(the same as ``POST /api/v1/imports``), and their refusals are shown beside the fields."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from stratus.imports.models import DedupPolicy, ImportKind
from stratus.platform.errors import ApplicationError
from stratus.web.settings.forms import SettingsForm

DELIMITERS = (
    ("", _("Detect")),
    (",", _("Comma (,)")),
    (";", _("Semicolon (;)")),
    ("\t", _("Tab")),
    ("|", _("Vertical bar (|)")),
)
ENCODINGS = (
    ("", _("Detect (UTF-8 or by its BOM)")),
    ("utf-8", "UTF-8"),
    ("windows-1252", _("Windows-1252 (Western European)")),
    ("latin-1", _("Latin-1 (ISO-8859-1)")),
    ("utf-16", "UTF-16"),
    ("mac-roman", "Mac Roman"),
)
IGNORE = ""
COLUMN_PREFIX = "column-"


class UploadForm(SettingsForm):
    file = forms.FileField(label=_("CSV file"))


class UploadStartForm(forms.Form):
    """What the browser says of a file before sending it straight to storage."""

    name = forms.CharField(max_length=255)
    size = forms.IntegerField(min_value=0)


class MappingForm(SettingsForm):
    """The record type, how the file is read, one field per column, the duplicate policy."""

    kind = forms.ChoiceField(label=_("Record type"), choices=ImportKind.choices, initial=ImportKind.CONTACTS)
    encoding = forms.ChoiceField(label=_("Encoding"), choices=ENCODINGS, required=False)
    delimiter = forms.ChoiceField(label=_("Separator"), choices=DELIMITERS, required=False)
    dedup_policy = forms.ChoiceField(
        label=_("When a row matches an existing record"),
        choices=(
            (DedupPolicy.SKIP, _("Skip the row")),
            (DedupPolicy.UPDATE, _("Update the record with the row's non-empty cells")),
            (DedupPolicy.CREATE, _("Create a new record anyway")),
        ),
        initial=DedupPolicy.SKIP,
        widget=forms.RadioSelect,
    )
    mapped_kind = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, headers: list[str], guesses: list[str], fields: list[str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.headers = headers
        self.initial.setdefault("mapped_kind", ImportKind.CONTACTS)
        choices = [(IGNORE, _("Don't import")), *((field, field) for field in fields)]
        # The guesses stand until the record type changes (then the columns are guessed again).
        data: dict[str, Any] = {name: self.data.get(name) for name in self.data} if self.is_bound else {}
        same_kind = data.get("mapped_kind") == data.get("kind", ImportKind.CONTACTS)
        for index, header in enumerate(headers):
            name = f"{COLUMN_PREFIX}{index}"
            guess = guesses[index] if index < len(guesses) else IGNORE
            self.fields[name] = forms.ChoiceField(
                label=header or _("(column %(number)s)") % {"number": index + 1},
                choices=choices,
                required=False,
                initial=guess,
            )
            if self.is_bound and not (same_kind and name in data):
                data[name] = guess
        if self.is_bound:
            data["mapped_kind"] = data.get("kind", ImportKind.CONTACTS)
            self.data = data

    def column_fields(self) -> list[forms.BoundField]:
        return [self[f"{COLUMN_PREFIX}{index}"] for index in range(len(self.headers))]

    def overrides(self) -> dict[str, str | None]:
        """``{"Header": "field" or None}`` for the services, from the chosen fields."""
        values = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return {
            header: values.get(f"{COLUMN_PREFIX}{index}") or None for index, header in enumerate(self.headers)
        }

    def refuse(self, error: ApplicationError | str) -> None:
        """Field errors named ``mapping.<Header>`` go beside that column's choice."""
        if isinstance(error, ApplicationError):
            moved: dict[str, list[str]] = {}
            for field, messages in error.field_errors.items():
                header = field.removeprefix("mapping.") if field.startswith("mapping.") else None
                if header is not None and header in self.headers:
                    moved[f"{COLUMN_PREFIX}{self.headers.index(header)}"] = list(messages)
                elif field == "mapping":
                    moved["__all__"] = [error.message, *messages]
                else:
                    moved[field] = list(messages)
            if "__all__" not in moved and not any(name in self.fields for name in moved):
                moved["__all__"] = [error.message]
            for field, messages in moved.items():
                for message in messages:
                    self.add_error(None if field == "__all__" or field not in self.fields else field, message)
            return
        super().refuse(error)
