"""Constraints between genes, written in the search space YAML as small expressions.

Example: ``d_model % n_head == 0``. An expression may use gene names, numbers,
strings, arithmetic (+ - * / // % **), comparisons, ``and``/``or``/``not``,
``in`` with a literal list, and the functions min, max, abs. Anything else is
rejected when the file is loaded, so nothing in a YAML file is ever executed as
arbitrary Python.
"""

from __future__ import annotations

import ast
import operator
from dataclasses import dataclass
from typing import Any, Mapping

from shinka.errors import UserError

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_FUNCTIONS = {"min": min, "max": max, "abs": abs}


@dataclass(frozen=True)
class Constraint:
    """A boolean expression over gene values that every valid genome satisfies."""

    expression: str
    tree: ast.Expression

    def names(self) -> set[str]:
        return {
            node.id
            for node in ast.walk(self.tree)
            if isinstance(node, ast.Name) and node.id not in _FUNCTIONS
        }

    def holds(self, values: Mapping[str, Any]) -> bool:
        try:
            return bool(_evaluate(self.tree.body, values))
        except ZeroDivisionError:
            return False


def parse_constraint(
    expression: Any, *, known_names: set[str], file: str | None, field: str
) -> Constraint:
    """Parse and check one constraint; unknown names or syntax raise a UserError."""
    if not isinstance(expression, str) or not expression.strip():
        raise UserError(
            "a constraint must be a non-empty expression string",
            file=file, field=field, value=expression,
            allowed="for example 'd_model % n_head == 0'",
        )
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as error:
        raise UserError(
            f"invalid constraint syntax ({error.msg})", file=file, field=field,
            value=expression, allowed="a Python-like boolean expression over gene names",
        ) from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise UserError(
                f"constraint uses an unsupported construct ({type(node).__name__})",
                file=file, field=field, value=expression,
                allowed="gene names, numbers, arithmetic, comparisons, and/or/not, min/max/abs",
            )
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS
        ):
            raise UserError(
                "constraint calls an unsupported function", file=file, field=field,
                value=expression, allowed="min, max, abs",
            )
    constraint = Constraint(expression=expression.strip(), tree=tree)
    unknown = sorted(constraint.names() - known_names)
    if unknown:
        raise UserError(
            f"constraint names an unknown gene '{unknown[0]}'", file=file, field=field,
            value=expression, allowed=", ".join(sorted(known_names)),
        )
    return constraint


_ALLOWED_NODES = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.BinOp, ast.Compare, ast.Name, ast.Load, ast.Constant, ast.List, ast.Tuple, ast.Call,
    *_BINARY, *_COMPARE,
)


def _evaluate(node: ast.AST, values: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_evaluate(item, values) for item in node.elts]
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate(node.operand, values)
        if isinstance(node.op, ast.Not):
            return not operand
        return -operand if isinstance(node.op, ast.USub) else +operand
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_evaluate(node.left, values), _evaluate(node.right, values))
    if isinstance(node, ast.BoolOp):
        results = (_evaluate(value, values) for value in node.values)
        return all(results) if isinstance(node.op, ast.And) else any(results)
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, values)
        for op, comparator in zip(node.ops, node.comparators):
            right = _evaluate(comparator, values)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.Call):
        return _FUNCTIONS[node.func.id](*(_evaluate(arg, values) for arg in node.args))
    raise ValueError(f"unsupported expression node {type(node).__name__}")
