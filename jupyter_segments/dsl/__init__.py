"""The segment DSL: tokens -> parser -> definition tree; printer back to text; parameter binding."""

from . import ast
from .params import bind_params
from .parser import parse, parse_condition
from .printer import to_text

__all__ = ["ast", "bind_params", "parse", "parse_condition", "to_text"]
