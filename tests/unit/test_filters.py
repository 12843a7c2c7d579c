"""The filter DSL parser (`stratus.filters.parse_filter`) and a few reference-evaluator rules."""

from __future__ import annotations

import math
from typing import Any

import pytest

from stratus import limits
from stratus.errors import BadRequestError
from stratus.filters import OPERATORS, And, Condition, Not, Or, evaluate, parse_filter


def bad(raw: Any, field: str) -> BadRequestError:
    """The parser's refusal of `raw`: a 400 whose `details.field` (and message) say where."""
    with pytest.raises(BadRequestError) as caught:
        parse_filter(raw)
    assert caught.value.status == 400
    assert caught.value.details["field"] == field
    assert caught.value.message.startswith(f"{field}: ")
    return caught.value


def cond(field: str, operator: str, value: Any) -> dict[str, Any]:
    return {"field": field, "operator": operator, "value": value}


# -- conditions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "value", "parsed"),
    [
        ("eq", "a", "a"),
        ("ne", 3, 3),
        ("gt", 1.5, 1.5),
        ("gte", "2024-01-01", "2024-01-01"),
        ("lt", -2, -2),
        ("lte", 0, 0),
        ("in", ["a", "b"], ("a", "b")),
        ("nin", [1, 2.5], (1, 2.5)),
        ("contains", "x", "x"),
        ("starts_with", "pre", "pre"),
        ("ends_with", "post", "post"),
        ("exists", True, True),
        ("is_null", False, False),
        ("text", "hello world", "hello world"),
    ],
)
def test_every_operator_parses(operator: str, value: Any, parsed: Any) -> None:
    node = parse_filter({"AND": [cond("meta.x", operator, value)]})
    assert node == And((Condition(("meta", "x"), operator, parsed),))


def test_the_operator_list_is_the_documented_one() -> None:
    documented = "eq ne gt gte lt lte in nin contains starts_with ends_with exists is_null text"
    assert set(documented.split()) == OPERATORS


def test_a_bare_condition_is_accepted() -> None:
    assert parse_filter(cond("a", "eq", 1)) == Condition(("a",), "eq", 1)


def test_operator_defaults_to_eq() -> None:
    assert parse_filter({"field": "a", "value": "x"}) == Condition(("a",), "eq", "x")


@pytest.mark.parametrize("operator", ["exists", "is_null"])
def test_exists_and_is_null_default_to_true(operator: str) -> None:
    assert parse_filter({"field": "a", "operator": operator}) == Condition(("a",), operator, True)


@pytest.mark.parametrize("operator", ["exists", "is_null"])
def test_exists_and_is_null_take_only_booleans(operator: str) -> None:
    bad(cond("a", operator, "yes"), "filters.value")


def test_empty_filter_is_no_filter() -> None:
    assert parse_filter(None) is None
    assert parse_filter({}) is None


@pytest.mark.parametrize("raw", [[], "a = 1", 3])
def test_a_filter_must_be_an_object(raw: Any) -> None:
    bad(raw, "filters")


# -- shorthand -----------------------------------------------------------------------------------


def test_shorthand_is_eq() -> None:
    expected = Condition(("metadata", "category"), "eq", "contract")
    assert parse_filter({"metadata.category": "contract"}) == expected


def test_shorthand_with_several_keys_is_and() -> None:
    expected = And((Condition(("a",), "eq", 1), Condition(("b", "c"), "eq", True)))
    assert parse_filter({"a": 1, "b.c": True}) == expected


def test_shorthand_takes_the_case_flag() -> None:
    assert parse_filter({"a": "X", "case_sensitive": True}) == Condition(("a",), "eq", "X", True)


def test_shorthand_inside_a_group() -> None:
    expected = Or((Condition(("a",), "eq", 1), Condition(("b",), "eq", 2)))
    assert parse_filter({"OR": [{"a": 1}, {"b": 2}]}) == expected


def test_shorthand_value_must_be_a_scalar() -> None:
    bad({"tags": ["a", "b"]}, "filters.tags")


def test_only_case_sensitive_is_an_empty_group() -> None:
    bad({"case_sensitive": True}, "filters")


# -- groups ----------------------------------------------------------------------------------------


def test_not_as_an_object() -> None:
    assert parse_filter({"NOT": cond("a", "eq", 1)}) == Not(Condition(("a",), "eq", 1))


def test_not_as_a_list_negates_their_and() -> None:
    node = parse_filter({"NOT": [cond("a", "eq", 1), {"b": 2}]})
    assert node == Not(And((Condition(("a",), "eq", 1), Condition(("b",), "eq", 2))))


def test_and_or_not_together_are_anded() -> None:
    node = parse_filter({"AND": [{"a": 1}], "OR": [{"b": 2}], "NOT": {"c": 3}})
    assert node == And(
        (
            And((Condition(("a",), "eq", 1),)),
            Or((Condition(("b",), "eq", 2),)),
            Not(Condition(("c",), "eq", 3)),
        )
    )


def test_case_sensitive_is_inherited_and_can_be_overridden() -> None:
    node = parse_filter(
        {
            "case_sensitive": True,
            "AND": [{"a": "X"}, {"OR": [{"b": "Y"}], "case_sensitive": False}, {"NOT": {"c": "Z"}}],
        }
    )
    assert node == And(
        (
            Condition(("a",), "eq", "X", True),
            Or((Condition(("b",), "eq", "Y", False),)),
            Not(Condition(("c",), "eq", "Z", True)),
        )
    )


def test_case_sensitive_must_be_a_boolean() -> None:
    bad({"AND": [{"a": 1}], "case_sensitive": "yes"}, "filters.case_sensitive")


@pytest.mark.parametrize("children", [[], {"a": 1}, "a"])
def test_group_needs_a_non_empty_list(children: Any) -> None:
    bad({"OR": children}, "filters.OR")


def test_unknown_key_beside_a_group() -> None:
    bad({"AND": [{"a": 1}], "b": 2}, "filters")


def test_unknown_key_in_a_condition() -> None:
    bad({"field": "a", "operator": "eq", "value": 1, "extra": 2}, "filters")


def test_each_child_must_be_an_object() -> None:
    bad({"AND": [{"a": 1}, "b"]}, "filters.AND[1]")


# -- depth -----------------------------------------------------------------------------------------


def nested(groups: int) -> dict[str, Any]:
    node: dict[str, Any] = cond("a", "eq", 1)
    for _ in range(groups):
        node = {"AND": [node]}
    return node


def test_depth_limit_is_the_documented_one() -> None:
    assert limits.MAX_FILTER_DEPTH == 8


def test_eight_nested_groups_are_accepted() -> None:
    assert parse_filter(nested(limits.MAX_FILTER_DEPTH)) is not None


def test_nine_nested_groups_are_rejected_naming_where() -> None:
    where = "filters" + ".AND[0]" * limits.MAX_FILTER_DEPTH
    error = bad(nested(limits.MAX_FILTER_DEPTH + 1), where)
    assert where in error.message
    assert "deeper than 8" in error.message


def test_depth_counts_not_objects_too() -> None:
    node: dict[str, Any] = cond("a", "eq", 1)
    for _ in range(limits.MAX_FILTER_DEPTH + 1):
        node = {"NOT": node}
    bad(node, "filters" + ".NOT" * limits.MAX_FILTER_DEPTH)


# -- operators and values ----------------------------------------------------------------------


def test_unknown_operator_names_it() -> None:
    error = bad({"AND": [cond("a", "regex", ".*")]}, "filters.AND[0].operator")
    assert error.details == {"field": "filters.AND[0].operator", "operator": "regex"}
    assert "regex" in error.message


def test_operator_must_be_a_string() -> None:
    assert bad({"field": "a", "operator": 5, "value": 1}, "filters.operator").details["operator"] == 5


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_rejected(value: float) -> None:
    bad(cond("a", "gt", value), "filters.value")


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_non_finite_values_in_lists_are_rejected(value: float) -> None:
    bad(cond("a", "in", [1, value]), "filters.value[1]")


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_non_finite_shorthand_values_are_rejected(value: float) -> None:
    bad({"a": value}, "filters.a")


@pytest.mark.parametrize("operator", ["in", "nin"])
@pytest.mark.parametrize("values", [["a", 1], [1, True], ["a", False], [1.5, "x"]])
def test_in_and_nin_reject_mixed_types(operator: str, values: list[Any]) -> None:
    bad(cond("a", operator, values), "filters.value")


def test_in_accepts_ints_and_floats_together() -> None:
    assert parse_filter(cond("a", "in", [1, 2.5])) == Condition(("a",), "in", (1, 2.5))


@pytest.mark.parametrize("value", [[], "a", None])
def test_in_takes_a_non_empty_list(value: Any) -> None:
    bad(cond("a", "in", value), "filters.value")


def test_in_takes_at_most_the_limit() -> None:
    assert parse_filter(cond("a", "in", list(range(limits.MAX_IN_VALUES)))) is not None
    bad(cond("a", "in", list(range(limits.MAX_IN_VALUES + 1))), "filters.value")


# -- width: a budget of cost units per filter -----------------------------------------------------


def _width_refusal(raw: Any) -> BadRequestError:
    error = bad(raw, "filters")
    assert error.details == {"field": "filters", "limit": limits.MAX_FILTER_COST}, error.details
    assert "too wide" in error.message and str(limits.MAX_FILTER_COST) in error.message
    return error


def _or(conditions: list[dict[str, Any]]) -> dict[str, Any]:
    return {"OR": conditions}


def test_a_filter_may_hold_conditions_up_to_the_budget_and_no_more() -> None:
    at_budget = [cond(f"f{i}", "eq", i) for i in range(limits.MAX_FILTER_COST)]
    node = parse_filter(_or(at_budget))
    assert isinstance(node, Or) and len(node.children) == limits.MAX_FILTER_COST
    _width_refusal(_or([*at_budget, cond("one", "eq", "more")]))


def test_each_in_and_nin_value_counts_against_the_budget() -> None:
    full = [f"v{i}" for i in range(limits.MAX_IN_VALUES)]
    # Two full lists fit (a legitimate wide filter), a third does not.
    two = [cond("a", "in", full), cond("b", "nin", full)]
    assert parse_filter({"AND": two}) is not None
    _width_refusal({"AND": [*two, cond("c", "in", full)]})


def test_ranges_and_substring_operators_cost_what_they_cost_the_compiler() -> None:
    ranges = limits.MAX_FILTER_COST // limits.FILTER_OPERATOR_COSTS["gt"]
    assert parse_filter(_or([cond(f"f{i}", "gt", i) for i in range(ranges)])) is not None
    _width_refusal(_or([cond(f"f{i}", "lt", i) for i in range(ranges + 1)]))
    substrings = limits.MAX_FILTER_COST // limits.FILTER_OPERATOR_COSTS["contains"]
    _width_refusal(_or([cond(f"f{i}", "ends_with", "x") for i in range(substrings + 1)]))


def test_each_word_of_a_text_condition_counts() -> None:
    words = " ".join(f"w{i}" for i in range(limits.MAX_FILTER_COST))
    assert parse_filter(cond("body", "text", words)) is not None
    _width_refusal({"AND": [cond("body", "text", words), cond("title", "text", "one")]})


def test_shorthand_conditions_count_too() -> None:
    _width_refusal({f"f{i}": i for i in range(limits.MAX_FILTER_COST + 1)})


def test_the_budget_is_spent_across_nested_groups() -> None:
    values = list(range(limits.MAX_IN_VALUES))
    rest = limits.MAX_FILTER_COST - limits.MAX_IN_VALUES
    nested: dict[str, Any] = {
        "AND": [_or([cond(f"a{i}", "eq", 1) for i in range(rest)]), {"NOT": [cond("b", "in", values)]}]
    }
    assert parse_filter(nested) is not None
    nested["AND"].append(cond("c", "exists", True))
    _width_refusal(nested)


def test_the_width_refusal_names_the_callers_location() -> None:
    with pytest.raises(BadRequestError) as caught:
        parse_filter(
            _or([cond(f"f{i}", "eq", i) for i in range(limits.MAX_FILTER_COST + 1)]), "stages[1].filters"
        )
    assert caught.value.details["field"] == "stages[1].filters"


@pytest.mark.parametrize("value", [None, [1], {"a": 1}])
def test_scalar_operators_need_a_scalar(value: Any) -> None:
    bad(cond("a", "eq", value), "filters.value")


@pytest.mark.parametrize("operator", ["gt", "gte", "lt", "lte"])
def test_ranges_reject_booleans(operator: str) -> None:
    bad(cond("a", operator, True), "filters.value")


@pytest.mark.parametrize("operator", ["starts_with", "ends_with", "text"])
def test_string_operators_need_a_string(operator: str) -> None:
    bad(cond("a", operator, 5), "filters.value")


def test_text_needs_a_word() -> None:
    bad(cond("a", "text", "  ...  "), "filters.value")


@pytest.mark.parametrize("field", ["", "a..b", ".a", "a.", "x" * 257])
def test_bad_field_paths(field: str) -> None:
    bad(cond(field, "eq", 1), "filters.field")


def test_field_must_be_a_string() -> None:
    bad({"field": 3, "operator": "eq", "value": 1}, "filters.field")


# -- reference evaluator rules the stores rely on --------------------------------------------------


def check(raw: dict[str, Any], payload: dict[str, Any]) -> bool:
    node = parse_filter(raw)
    assert node is not None
    return evaluate(node, payload)


def test_list_fields_match_any_element() -> None:
    assert check({"tags": "b"}, {"tags": ["a", "B"]})
    assert check(cond("tags", "in", ["x", "a"]), {"tags": ["a"]})
    assert not check({"tags": "a"}, {"tags": [["a"]]})


def test_ne_and_nin_match_missing_fields() -> None:
    assert check(cond("a", "ne", 1), {})
    assert check(cond("a", "nin", [1]), {"a": None})


def test_types_are_not_coerced() -> None:
    assert not check({"a": "5"}, {"a": 5})
    assert not check({"a": 1}, {"a": True})
    assert check({"a": 5}, {"a": 5.0})
    assert not check(cond("a", "gt", 0), {"a": True})


def test_lookup_does_not_descend_into_lists() -> None:
    assert not check({"a.0": "x"}, {"a": ["x"]})
    assert check({"a.0": "x"}, {"a": {"0": "x"}})


# -- Pinecone compiler regressions (found by tests/property) --------------------------------------
# The compiled filter is run by the loopback server's own predicate, over the metadata the store
# writes: no server needed.


def pinecone_selects(raw: dict[str, Any], payloads: list[dict[str, Any]]) -> set[int]:
    from stratus.adapters.pinecone import filters as pinecone_filters
    from stratus.adapters.pinecone import metadata as pinecone_metadata
    from tests.loopback_pinecone import compile_filter as loopback_predicate

    node = parse_filter(raw)
    assert node is not None
    compiled = pinecone_filters.compile_filter(node)
    if compiled.matches_nothing:
        return set()
    matches = loopback_predicate(compiled.filter) if compiled.filter is not None else (lambda _: True)
    return {
        i
        for i, payload in enumerate(payloads)
        if matches(pinecone_metadata.record_metadata(f"d{i}", payload))
    }


HUGE_DOCS: list[dict[str, Any]] = [
    {"x": 1e300},
    {"x": -1e300},
    {"x": 5},
    {"x": 2**106},
    {"x": 2**106 - 1},
    {"x": -(2**106)},
    {"x": 1.7976931348623157e308},
    {"x": 2.0**107},
]


@pytest.mark.parametrize(
    "want",
    [10**300, int(1e300), -int(1e300), 2**106 + 1, 2**106 + 2**53, 2**107, 2**107 + 1, 10**400, -(10**400)],
    ids=repr,
)
@pytest.mark.parametrize("operator", ["gt", "gte", "lt", "lte"])
def test_pinecone_ranges_beyond_2_106_compare_floats_exactly(operator: str, want: int) -> None:
    # Minimal: {"x": 1e300} with gt 10**300 used to match nothing (1e300 is above 10**300).
    raw = cond("x", operator, want)
    node = parse_filter(raw)
    assert node is not None
    expected = {i for i, payload in enumerate(HUGE_DOCS) if evaluate(node, payload)}
    assert pinecone_selects(raw, HUGE_DOCS) == expected


def test_pinecone_paths_of_lone_surrogates_and_of_the_character_they_escape_differ() -> None:
    payloads: list[dict[str, Any]] = [{"😀": 5}, {"\ud83d\ude00": 5}, {"\ud800": 1}, {"\\ud800": 1}]
    assert pinecone_selects(cond("\ud83d\ude00", "eq", 5), payloads) == {1}  # used to be {0, 1}
    assert pinecone_selects(cond("😀", "exists", True), payloads) == {0}
    assert pinecone_selects(cond("\ud800", "gte", 1), payloads) == {2}
