"""Which archived documents go to print: the ``[print] select`` rule.

Takes the rule text and print items; gives the items it selects, in their order. A rule is
``routed`` (the records that channel routing handed to print; resolved by the print step, which
knows the index), ``all``, or ``<field> == <value>`` / ``<field> != <value>`` on the record's
fields (the value may be quoted); a record without the field has the value "" (so
``preferred_channel != email`` selects records with no preference).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from factory.errors import ConfigError

_RULE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(==|!=)\s*(.+?)\s*$")


def parse_rule(rule: str) -> Callable[[Mapping[str, Any]], bool]:
    """A predicate over a record's fields, from a rule; `ConfigError` if it is malformed."""
    text = rule.strip()
    if text == "all":
        return lambda _record: True
    match = _RULE.match(text)
    if not match:
        raise ConfigError(f"print.select: {rule!r} is not 'all' or '<field> == <value>'"
                          " or '<field> != <value>'")
    name, operator, value = match.groups()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]

    def equal(record: Mapping[str, Any]) -> bool:
        got = record.get(name)
        return ("" if got is None else str(got)) == value

    if operator == "==":
        return equal
    return lambda record: not equal(record)


def select_items(items: Iterable[Any], rule: str) -> list[Any]:
    """The items (anything with ``attributes``) that the field ``rule`` selects. ``routed`` is
    not a field rule: the print step resolves it from the deliveries table."""
    predicate = parse_rule(rule)
    return [item for item in items if predicate(item.attributes)]
