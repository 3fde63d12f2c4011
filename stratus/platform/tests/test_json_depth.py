"""Measuring JSON nesting without parsing or recursing."""

from __future__ import annotations

import json
import random
import sys

import pytest

from stratus.platform import json_depth


def _reference_depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_reference_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_reference_depth(v) for v in value), default=0)
    return 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 0),
        ('"text"', 0),
        ("{}", 1),
        ("[1, 2]", 1),
        ('{"a": [1]}', 2),
        ('[[], [[]], {"a": {"b": []}}]', 4),
        ('"[[[{{{"', 0),  # brackets in strings do not count
        ('["]\\"[[", "\\\\", "{"]', 1),  # escaped quotes and backslashes
        ('{"k\\"[": "v\\\\"}', 1),
        ('"unterminated [[[[', 0),
        ("[[[", 3),  # malformed text is measured; the parser refuses it afterwards
        ('["é€😀", ["🎉"]]', 2),
    ],
)
def test_depth(text: str, expected: int) -> None:
    assert json_depth.depth(text) == expected
    assert json_depth.depth(text.encode()) == expected


def test_depth_matches_the_parsed_value_on_random_documents() -> None:
    rng = random.Random(12)
    pieces = ['"', "\\", "[", "]", "{", "}", "a", " ", "é"]

    def build(level: int) -> object:
        roll = rng.random()
        if level > 12 or roll < 0.3:
            return "".join(rng.choice(pieces) for _ in range(rng.randint(0, 6)))
        if roll < 0.65:
            return [build(level + 1) for _ in range(rng.randint(0, 3))]
        return {"".join(rng.choice(pieces) for _ in range(3)) + str(i): build(level + 1) for i in range(3)}

    for _ in range(300):
        value = build(0)
        text = json.dumps(value, ensure_ascii=rng.random() < 0.5)
        assert json_depth.depth(text) == _reference_depth(value), text


def test_a_body_far_deeper_than_the_recursion_limit_is_measured_without_recursing() -> None:
    deep = "[" * (50 * sys.getrecursionlimit()) + "]" * (50 * sys.getrecursionlimit())
    assert json_depth.depth(deep) == 50 * sys.getrecursionlimit()
    assert json_depth.too_deep(deep, 64)
    with pytest.raises(json_depth.JsonTooDeep) as raised:
        json_depth.loads(deep, limit=64)
    assert isinstance(raised.value, ValueError)
    assert "64" in str(raised.value)


def test_the_limit_is_inclusive() -> None:
    at_limit = "[" * 64 + "]" * 64
    assert not json_depth.too_deep(at_limit, 64)
    assert json_depth.too_deep("[" + at_limit + "]", 64)
    assert json_depth.loads(at_limit, limit=64) is not None


def test_many_brackets_side_by_side_are_not_deep() -> None:
    wide = "[" + ",".join(["[]"] * 10_000) + "]"
    assert json_depth.depth(wide) == 2
    assert not json_depth.too_deep(wide, 8)


def test_the_default_limit_comes_from_the_settings(settings) -> None:
    settings.JSON_MAX_DEPTH = 10
    assert json_depth.too_deep("[" * 11 + "]" * 11)
    assert not json_depth.too_deep("[" * 10 + "]" * 10)
