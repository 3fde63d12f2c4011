"""The orjson renderer writes the same bytes as DRF's JSONRenderer (with the project's settings)."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

from django.utils.translation import gettext_lazy
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from stratus.api.renderers import FastJSONRenderer


def test_same_bytes_as_drf() -> None:
    moment = datetime.datetime(2026, 11, 21, 23, 5, 7, 123456, tzinfo=datetime.UTC)
    data = {
        "results": ReturnList(
            [
                ReturnDict(
                    {"id": 1, "name": 'Zoë «quoted» \u2028 \u2029 "x"', "ok": True, "none": None},
                    serializer=serializers.Serializer(),
                ),
                {"at": moment, "naive": moment.replace(tzinfo=None), "day": datetime.date(2026, 1, 2)},
                {"time": datetime.time(1, 2, 3, 450000), "span": datetime.timedelta(seconds=90)},
                {"value": Decimal("12.50"), "id": uuid.UUID(int=5), "lazy": gettext_lazy("Not found.")},
                {
                    "error": ErrorDetail("Must be a string.", code="strict_type"),
                    "n": -3,
                    "f": 0.1,
                    "big": 2**40,
                },
            ],
            serializer=serializers.Serializer(),
        ),
        "next": None,
        "nested": {"list": [1, [2, [3]]], "empty": {}},
    }
    assert FastJSONRenderer().render(data) == JSONRenderer().render(data)


def test_indented_and_empty_output() -> None:
    data = {"a": [1, 2]}
    context = {"indent": 2}
    assert FastJSONRenderer().render(data, "application/json", context) == JSONRenderer().render(
        data, "application/json", context
    )
    assert FastJSONRenderer().render(None) == b""


def test_integers_beyond_64_bits_are_still_written() -> None:
    assert FastJSONRenderer().render({"n": 2**70}) == JSONRenderer().render({"n": 2**70})
