"""Strict input handling shared by every API serializer.

JSON clients get exactly what the schema says: a string field takes only strings, a number
only numbers (never booleans), unknown or read-only keys are refused by name, and related
ids resolve only inside the caller's organization (another tenant's id reads as "does not
exist", the same answer as for an id that was never used).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.fields import _UnvalidatedField
from rest_framework.relations import PKOnlyObject
from rest_framework.settings import api_settings as drf_settings

from stratus.accounts.models import User

# Bounds of integer inputs: every integer a client sends has both (the schema states them too).
ID_MIN = 1
ID_MAX = 2**63 - 1  # a BigAutoField id (PostgreSQL bigint)
BIGINT_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1  # a PositiveIntegerField (PostgreSQL integer)


def _reject_unless(field: serializers.Field, data: Any, *types: type) -> None:
    if isinstance(data, bool) and bool not in types:
        field.fail("strict_type")
    if not isinstance(data, types):
        field.fail("strict_type")


class StrictCharField(serializers.CharField):
    default_error_messages = {"strict_type": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        _reject_unless(self, data, str)
        # The limit applies to what was sent, before surrounding whitespace is trimmed.
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class StrictEmailField(serializers.EmailField):
    default_error_messages = {"strict_type": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        _reject_unless(self, data, str)
        return super().to_internal_value(data)


class StrictSlugField(serializers.SlugField):
    default_error_messages = {"strict_type": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        _reject_unless(self, data, str)
        return super().to_internal_value(data)


class StrictURLField(serializers.URLField):
    default_error_messages = {"strict_type": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        _reject_unless(self, data, str)
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """An integer (never a boolean or a string); give it ``min_value`` and ``max_value``."""

    default_error_messages = {"strict_type": "Must be an integer."}

    def to_internal_value(self, data: Any) -> int:
        _reject_unless(self, data, int)
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    default_error_messages = {"strict_type": "Must be a number."}

    def to_internal_value(self, data: Any) -> float:
        _reject_unless(self, data, int, float)
        return super().to_internal_value(data)


class StrictDecimalField(serializers.DecimalField):
    """Money and other exact numbers travel as strings such as "1250.00" (never floats)."""

    default_error_messages = {"strict_type": 'Must be a decimal number written as a string, e.g. "1250.00".'}

    def to_internal_value(self, data: Any) -> Any:
        _reject_unless(self, data, str)
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"strict_type": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        _reject_unless(self, data, bool)
        return bool(data)


class StrictDateTimeField(serializers.DateTimeField):
    default_error_messages = {"strict_type": "Must be a date-time string (ISO 8601)."}

    def to_internal_value(self, value: Any) -> datetime.datetime:
        _reject_unless(self, value, str)
        try:
            return super().to_internal_value(value)
        except OverflowError:
            self.fail("invalid", format="YYYY-MM-DDThh:mm[:ss[.uuuuuu]]+HH:MM")
            raise  # unreachable: fail() raises


class StrictDateField(serializers.DateField):
    default_error_messages = {"strict_type": "Must be a date string (YYYY-MM-DD)."}

    def to_internal_value(self, value: Any) -> datetime.date:
        _reject_unless(self, value, str)
        return super().to_internal_value(value)


class StrictChoiceField(serializers.ChoiceField):
    default_error_messages = {"strict_type": "Must be a string."}

    def to_internal_value(self, data: Any) -> Any:
        _reject_unless(self, data, str)
        return super().to_internal_value(data)


class StrictListField(serializers.ListField):
    default_error_messages = {"strict_type": "Must be a list."}

    def to_internal_value(self, data: Any) -> list[Any]:
        _reject_unless(self, data, list)
        return super().to_internal_value(data)


def _request_organization(field: serializers.Field) -> Any:
    request = field.context.get("request")
    organization = getattr(request, "organization", None)
    if organization is None:
        raise RuntimeError("organization-scoped fields need the request (with its organization) in context")
    return organization


class OrganizationPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A related id that must belong to the caller's organization.

    Users resolve through their membership; every other model through its ``organization``.
    """

    default_error_messages = {
        "does_not_exist": "No {model} with id {pk_value} in this organization.",
        "incorrect_type": "Must be an id, not {data_type}.",
        "out_of_range": "Must be an id from {minimum} to {maximum}.",
    }

    def get_queryset(self) -> models.QuerySet[Any]:
        queryset = super().get_queryset()
        assert queryset is not None, "organization-scoped related fields need a queryset"
        organization = _request_organization(self)
        if queryset.model is User or issubclass(queryset.model, User):
            return queryset.filter(memberships__organization=organization)
        return queryset.filter(organization=organization)

    # Integer ids lie in these bounds (stated in the schema by stratus.api.schema).
    min_value = ID_MIN
    max_value = ID_MAX

    def run_validation(self, data: Any = serializers.empty) -> Any:
        if data == "":  # DRF reads "" as null (for HTML forms); an id is an id or null
            self.fail("incorrect_type", data_type="str")
        return super().run_validation(data)

    def to_internal_value(self, data: Any) -> Any:
        pk_field = self.get_queryset().model._meta.pk
        expects_int = isinstance(pk_field, models.AutoField | models.BigAutoField | models.IntegerField)
        if (
            isinstance(data, bool)
            or (expects_int and not isinstance(data, int))
            or (not expects_int and not isinstance(data, str))
        ):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if expects_int and not self.min_value <= data <= self.max_value:
            self.fail("out_of_range", minimum=self.min_value, maximum=self.max_value)
        queryset = self.get_queryset()
        try:
            return queryset.get(pk=data)
        except (queryset.model.DoesNotExist, ValueError, TypeError, OverflowError, DjangoValidationError):
            self.fail("does_not_exist", model=queryset.model._meta.verbose_name, pk_value=data)


class StrictInputMixin:
    """Refuse keys that are not writable fields of the serializer, naming each one."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            fields = self.fields  # type: ignore[attr-defined]
            errors: dict[str, list[str]] = {}
            for key in data:
                field = fields.get(key)
                if field is None:
                    errors[str(key)] = ["Unknown field."]
                elif field.read_only:
                    errors[str(key)] = ["This field is read-only."]
            if errors:
                # Report the unknown keys together with the known fields' own errors.
                try:
                    super().to_internal_value({k: v for k, v in data.items() if str(k) not in errors})  # type: ignore[misc]
                except serializers.ValidationError as invalid:
                    if isinstance(invalid.detail, dict):
                        errors = {**invalid.detail, **errors}  # type: ignore[dict-item]
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)  # type: ignore[misc]


class StrictSerializer(StrictInputMixin, serializers.Serializer):
    pass


class StrictModelSerializer(StrictInputMixin, serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.EmailField: StrictEmailField,
        models.SlugField: StrictSlugField,
        models.URLField: StrictURLField,
        models.IntegerField: StrictIntegerField,
        models.BigIntegerField: StrictIntegerField,
        models.SmallIntegerField: StrictIntegerField,
        models.PositiveIntegerField: StrictIntegerField,
        models.PositiveSmallIntegerField: StrictIntegerField,
        models.PositiveBigIntegerField: StrictIntegerField,
        models.FloatField: StrictFloatField,
        models.DecimalField: StrictDecimalField,
        models.BooleanField: StrictBooleanField,
        models.DateTimeField: StrictDateTimeField,
        models.DateField: StrictDateField,
    }
    serializer_choice_field = StrictChoiceField
    serializer_related_field = OrganizationPrimaryKeyRelatedField


# --- fast output ----------------------------------------------------------------------------

# Reads one output field: (serializer, instance, current time zone) -> rendered value.
Getter = Callable[[serializers.Serializer, Any, Any], Any]


def _iso_datetime(value: datetime.datetime, zone: Any) -> str:
    """What DRF's DateTimeField (ISO 8601 output) renders for an aware date-time."""
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _plain_getter(field: serializers.Field) -> Getter | None:
    """A getter rendering ``field`` as DRF would, for plain fields; None for any other field."""
    if isinstance(field, serializers.SerializerMethodField):
        method_name = str(field.method_name)
        return lambda serializer, obj, zone: getattr(serializer, method_name)(obj)
    source = field.source
    if not (isinstance(source, str) and field.source_attrs == [source] and "." not in source):
        return None
    kind = type(field)
    if kind in (serializers.IntegerField, serializers.CharField, serializers.BooleanField):
        convert: Callable[[Any], Any] = {
            serializers.IntegerField: int,
            serializers.CharField: str,
            serializers.BooleanField: bool,
        }[kind]
        return lambda serializer, obj, zone: (
            None if (value := getattr(obj, source)) is None else convert(value)
        )
    if (
        kind is serializers.DateTimeField
        and getattr(field, "format", serializers.empty) is serializers.empty
        and not hasattr(field, "timezone")
        and str(drf_settings.DATETIME_FORMAT).lower() == ISO_8601
        and settings.USE_TZ
    ):

        def datetime_value(serializer: serializers.Serializer, obj: Any, zone: Any) -> Any:
            value = getattr(obj, source)
            if not value:
                return None
            if isinstance(value, datetime.datetime) and value.utcoffset() is not None:
                return _iso_datetime(value, zone)
            return serializer.fields[str(field.field_name)].to_representation(value)

        return datetime_value
    if (
        isinstance(field, serializers.DictField)
        and type(field.child) is _UnvalidatedField
        and kind is serializers.DictField
    ):
        return lambda serializer, obj, zone: (
            None if (value := getattr(obj, source)) is None else {str(k): v for k, v in value.items()}
        )
    if (
        isinstance(field, serializers.ListField)
        and type(field.child) is serializers.CharField
        and kind is serializers.ListField
    ):
        return lambda serializer, obj, zone: (
            None
            if (value := getattr(obj, source)) is None
            else [None if item is None else str(item) for item in value]
        )
    return None


def _drf_getter(name: str) -> Getter:
    def any_value(serializer: serializers.Serializer, obj: Any, zone: Any) -> Any:
        field = serializer.fields[name]
        attribute = field.get_attribute(obj)
        check = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
        return None if check is None else field.to_representation(attribute)

    return any_value


class FastOutputListSerializer(serializers.ListSerializer):
    """Renders a page of a :class:`FastOutputSerializer` with one time-zone lookup for all rows."""

    def to_representation(self, data: Any) -> list[Any]:
        child: Any = self.child
        if type(child).to_representation is not FastOutputSerializer.to_representation:
            return super().to_representation(data)
        rows = data.all() if isinstance(data, models.manager.BaseManager) else data
        zone = timezone.get_current_timezone()
        plan = child._output_plan()
        return [{name: get(child, row, zone) for name, get in plan} for row in rows]


class FastOutputSerializer(serializers.Serializer):
    """Renders instances like ``Serializer.to_representation``, without its per-field overhead.

    Plain fields (integers, text, booleans, ISO date-times, JSON objects, lists of text, method
    fields) are read straight from the instance by getters built once per class; any other
    field goes through DRF as usual. A page of 50 contacts renders about five times faster.
    """

    @classmethod
    def _output_plan(cls) -> list[tuple[str, Getter]]:
        plan: list[tuple[str, Getter]] | None = cls.__dict__.get("_fast_output_plan")
        if plan is None:
            plan = [
                (name, _plain_getter(field) or _drf_getter(name))
                for name, field in cls().fields.items()
                if not field.write_only
            ]
            cls._fast_output_plan = plan  # type: ignore[attr-defined]
        return plan

    class Meta:
        list_serializer_class = FastOutputListSerializer

    def to_representation(self, instance: Any) -> dict[str, Any]:
        zone = timezone.get_current_timezone()
        return {name: get(self, instance, zone) for name, get in self._output_plan()}
