"""The partial-JSON parser and the repair of model answers."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from medipersona.providers.partial_json import PartialJSON, parse_partial, repair_json

scalars = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
    st.integers(-10**6, 10**6),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
)
values = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=3),
    st.dictionaries(st.text(max_size=6), children, max_size=3),
), max_leaves=8)
objects = st.dictionaries(st.text(max_size=8), values, min_size=1, max_size=5)


def _is_prefix_value(partial, full) -> bool:
    """A value parsed from a prefix is a 'prefix' of the full value."""
    if isinstance(full, str):
        return isinstance(partial, str) and full.startswith(partial)
    if isinstance(full, dict):
        return isinstance(partial, dict) and all(k in full and _is_prefix_value(v, full[k])
                                                 for k, v in partial.items())
    if isinstance(full, list):
        return isinstance(partial, list) and len(partial) <= len(full) and all(
            _is_prefix_value(p, f) for p, f in zip(partial, full, strict=False))
    return partial == full


@settings(max_examples=150, deadline=None)
@given(obj=objects, ascii_only=st.booleans(), indent=st.sampled_from([None, 2]))
def test_every_truncation_point_gives_a_prefix_of_the_object(obj, ascii_only, indent):
    text = json.dumps(obj, ensure_ascii=ascii_only, indent=indent)
    for cut in range(len(text) + 1):
        partial = parse_partial(text[:cut])
        assert isinstance(partial, dict)
        assert _is_prefix_value(partial, obj), (text[:cut], partial)
        repaired, _ = repair_json(text[:cut])
        assert repaired is None or isinstance(repaired, dict)
    assert parse_partial(text) == obj
    assert repair_json(text) == (obj, False)


@settings(max_examples=60, deadline=None)
@given(obj=objects)
def test_completed_fields_before_the_cut_are_exact(obj):
    json.dumps(obj, ensure_ascii=False)
    keys = list(obj)
    # Cut right after each complete "key": value pair.
    for index in range(1, len(keys)):
        prefix = json.dumps({k: obj[k] for k in keys[:index]}, ensure_ascii=False)[:-1] + ", "
        partial = parse_partial(prefix)
        assert {k: partial[k] for k in keys[:index]} == {k: obj[k] for k in keys[:index]}


def test_the_string_being_written_is_included():
    text = '{"personality": "明るく前向きな性格。", "reason": "頭痛が続'
    assert parse_partial(text) == {"personality": "明るく前向きな性格。", "reason": "頭痛が続"}


def test_cut_inside_escapes_and_unicode_escapes():
    assert parse_partial('{"a": "x\\') == {"a": "x"}
    assert parse_partial('{"a": "x\\n') == {"a": "x\n"}
    assert parse_partial('{"a": "\\u30') == {"a": ""}
    assert parse_partial('{"a": "\\u3042') == {"a": "あ"}
    assert parse_partial('{"a": "say \\"hi') == {"a": 'say "hi'}


def test_incomplete_numbers_and_literals_are_left_out_until_final():
    assert parse_partial('{"a": 12') == {}
    assert parse_partial('{"a": 12', final=True) == {"a": 12}
    assert parse_partial('{"a": tr') == {}
    assert parse_partial('{"a": tr', final=True) == {"a": True}
    assert parse_partial('{"a": 12,') == {"a": 12}
    assert parse_partial('{"a": -') == {}


def test_partial_keys_and_missing_values_are_left_out():
    assert parse_partial('{"personality": "x", "rea') == {"personality": "x"}
    assert parse_partial('{"personality": "x", "reason":') == {"personality": "x"}
    assert parse_partial('{"personality": "x", "reason": ') == {"personality": "x"}


def test_no_object_yet():
    assert parse_partial("") == {}
    assert parse_partial("```json\n") == {}
    assert parse_partial("以下が結果です") == {}


def test_repair_code_fences_prose_trailing_commas_and_truncation():
    assert repair_json('```json\n{"a": "x"}\n```') == ({"a": "x"}, True)
    assert repair_json('```\n{"a": "x"}\n```') == ({"a": "x"}, True)
    assert repair_json('結果: {"a": "x"} 以上です。{"b": 1}') == ({"a": "x"}, True)
    assert repair_json('{"a": "x", "b": [1, 2,],}') == ({"a": "x", "b": [1, 2]}, True)
    assert repair_json('{"a": "x", "b": {"c": "yy') == ({"a": "x", "b": {"c": "yy"}}, True)
    assert repair_json('```json\n{"a": "x", "b": "y') == ({"a": "x", "b": "y"}, True)
    assert repair_json('{"a": "line1\nline2"}') == ({"a": "line1\nline2"}, True)  # raw newline in a string
    assert repair_json("no json here") == (None, True)
    assert repair_json("   ") == (None, True)


def test_partial_json_accumulator_caches_until_fed():
    acc = PartialJSON()
    assert acc.snapshot() == {}
    for chunk in ['{"a"', ': "hel', 'lo", "b"', ': "wor']:
        acc.feed(chunk)
    first = acc.snapshot()
    assert first == {"a": "hello", "b": "wor"}
    assert acc.snapshot() is first  # nothing new: no re-parse
    acc.feed('ld"}')
    assert acc.snapshot() == {"a": "hello", "b": "world"}
    assert acc.text == '{"a": "hello", "b": "world"}'
