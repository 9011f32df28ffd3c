"""One syntax for component settings on every command: ``--<component>-<kind> KEY=VALUE``.

==========================  =====================================  ===========================
option                      sets                                   suite-file equivalent
==========================  =====================================  ===========================
``--dataset-option K=V``    the dataset's options                  ``[[datasets]] options``
``--model-param K=V``       the explained model's parameters       ``[[models]] params``
``--explainer-param K=V``   the explainer's parameters             ``explainers = [{params}]``
``--metric-option K=V``     the metrics' options (``EvalConfig``)  ``[metric_options]``
==========================  =====================================  ===========================

Each is repeatable. A value is read as JSON when it parses (``150`` an int, ``1e-4`` a float,
``true`` a bool, ``null`` None, ``[0.1,0.5]`` a list, ``'"007"'`` the string ``007``), otherwise it
is kept as text (``category=Magazine_Subscriptions``): the same types a suite file's TOML gives.
The component's declared parameter checks then run on the typed values, every problem reported at once.

``--param`` (``train``: model parameters; ``explain``: explainer parameters) is a deprecated alias
that says which option to write instead.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from typing import Any

from xrec_bench.cli import CliError

#: option name -> (argparse dest, what it sets, an example)
OPTIONS = {
    "--dataset-option": ("dataset_option", "dataset option", "n_users=200"),
    "--model-param": ("model_param", "model parameter", "max_steps=150"),
    "--explainer-param": ("explainer_param", "explainer parameter", "n_samples=100"),
    "--metric-option": ("metric_option", "metric option (EvalConfig field)", "stability_users=10"),
}


def parse_value(text: str) -> Any:
    """A command-line value with its type: JSON when it parses, else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_pairs(items: Sequence[str] | None, flag: str) -> dict[str, Any]:
    """``KEY=VALUE`` items as a dict of typed values (:func:`parse_value`); a malformed item or a key
    given twice is a :class:`CliError` naming ``flag``."""
    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            example = OPTIONS.get(flag, (None, None, "key=value"))[2]
            raise CliError(f"{flag} takes KEY=VALUE (e.g. {flag} {example}). Got {item!r} instead.")
        if key in out:
            raise CliError(f"{flag} {key} is given twice ({out[key]!r} and {parse_value(value)!r}); give it once.")
        out[key] = parse_value(value)
    return out


def add_options(parser: argparse.ArgumentParser, *flags: str, notes: dict[str, str] | None = None) -> None:
    """Add the repeatable ``KEY=VALUE`` options ``flags`` (keys of :data:`OPTIONS`) to ``parser``."""
    for flag in flags:
        dest, what, example = OPTIONS[flag]
        extra = (notes or {}).get(flag, "")
        parser.add_argument(flag, dest=dest, action="append", default=[], metavar="KEY=VALUE",
                            help=f"{what} (JSON value, else text), repeatable, e.g. {example}{extra}")


def add_deprecated_param(parser: argparse.ArgumentParser, instead: str) -> None:
    """``--param KEY=VALUE``: a deprecated alias of ``instead`` (see :func:`merge_deprecated_param`)."""
    parser.add_argument("--param", dest="param", action="append", default=[], metavar="KEY=VALUE",
                        help=f"deprecated: write {instead} KEY=VALUE")


def merge_deprecated_param(args: argparse.Namespace, instead: str) -> None:
    """Move ``--param`` items onto ``instead``'s list, with a warning that says what to write."""
    items = getattr(args, "param", None) or []
    if not items:
        return
    print(f"warning: --param is deprecated here; write {instead} {items[0]} (the same KEY=VALUE syntax).",
          file=sys.stderr)
    dest = OPTIONS[instead][0]
    setattr(args, dest, [*getattr(args, dest, []), *items])
    args.param = []


def pairs(args: argparse.Namespace, flag: str) -> dict[str, Any]:
    """The typed ``KEY=VALUE`` dict of ``flag`` in ``args``."""
    return parse_pairs(getattr(args, OPTIONS[flag][0], None), flag)


#: where a one-cell suite's problem is, in command-line words
_WHERE = {"datasets": "--dataset", "models": "--model", "baselines": "--model", "explainers": "--explainer",
          "metrics": "--metrics", "metric_options": "--metric-option"}


def suite_problems(exc: Exception) -> str:
    """The validation error of a one-cell suite built from the arguments, worded for the command line:
    ``datasets[0]: ...`` becomes ``--dataset: ...`` (every problem kept, one per line)."""
    head, sep, rest = str(exc).partition(":\n")
    if not sep:
        return str(exc)
    count = head[head.rfind("("):] if head.endswith(")") else ""
    lines = [re.sub(r"^(\s*- )([a-z_]+)(\[\d+\])?(?=[: ])",
                    lambda m: m.group(1) + _WHERE.get(m.group(2), m.group(0)[len(m.group(1)):]), line)
             for line in rest.splitlines()]
    return f"invalid arguments {count}:\n" + "\n".join(lines)
