"""Command-line parsers generated from frozen ``Train*Config`` dataclasses (one flag per field).

``--batch-size 64`` sets ``batch_size``; booleans get ``--flag`` / ``--no-flag``; ``tuple[float, float]``
fields take two numbers; ``int | None`` fields accept ``none``. Defaults are the dataclass defaults.
"""
from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any, Sequence, TypeVar

C = TypeVar("C")


def _scalar_parser(tp: Any, optional: bool):
    def parse(text: str) -> Any:
        if optional and text.lower() in ("none", "null", ""):
            return None
        return tp(text)
    parse.__name__ = getattr(tp, "__name__", "value")
    return parse


def _add_field(parser: argparse.ArgumentParser, field: dataclasses.Field, tp: Any) -> None:
    flag = "--" + field.name.replace("_", "-")
    default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
    args = typing.get_args(tp)
    optional = type(None) in args
    if optional:
        tp = next(a for a in args if a is not type(None))
        args = typing.get_args(tp)
    if tp is bool:
        parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
    elif typing.get_origin(tp) is tuple:
        parser.add_argument(flag, nargs=len(args), type=_scalar_parser(args[0], False), default=default,
                            metavar=field.name.upper())
    elif tp in (int, float, str):
        parser.add_argument(flag, type=_scalar_parser(tp, optional), default=default,
                            help=f"default: {default}")
    else:
        raise ValueError(f"field {field.name!r} of type {tp!r} cannot be set from the command line")


def build_parser(cls: type, prog: str | None = None) -> argparse.ArgumentParser:
    """An ``ArgumentParser`` with one option per field of the dataclass ``cls``."""
    parser = argparse.ArgumentParser(prog=prog, description=(cls.__doc__ or "").strip().splitlines()[0])
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        if field.init:
            _add_field(parser, field, hints[field.name])
    return parser


def parse_config(cls: type[C], argv: Sequence[str] | None = None, prog: str | None = None) -> C:
    """Parse ``argv`` into a ``cls`` instance (its ``__post_init__`` validates the values)."""
    ns = build_parser(cls, prog).parse_args(argv)
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in vars(ns).items()}
    return cls(**values)
