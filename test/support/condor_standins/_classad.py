"""The small part of the ClassAd expression language the condor stand-ins evaluate: the
``periodic_remove`` policies sites use for a walltime limit, e.g.::

    periodic_remove = (JobStatus == 2) && (time() - JobCurrentStartDate) > 3600

Supported: numbers, ``true``/``false``, ``time()``, the job attributes of :data:`ATTRIBUTES`
(case-insensitive, as in ClassAds), ``+ - * /``, comparisons (``=?=``/``=!=`` as ``==``/``!=``),
``&& || !`` and parentheses.  Anything else is refused at submission, so a test never relies
on an expression the stand-in silently misreads.
"""
import ast
import re

__all__ = ["ATTRIBUTES", "ExpressionError", "compile_expression", "evaluate"]

#: attributes a running job has (values filled in by the stand-in's runner)
ATTRIBUTES = ("JobStatus", "JobCurrentStartDate", "EnteredCurrentStatus", "QDate", "ClusterId", "ProcId")

_TOKEN_RE = re.compile(r"\s*(?:(\d+(?:\.\d*)?)|([A-Za-z_][A-Za-z0-9_]*)\s*(\(\s*\))?|(=\?=|=!=|&&|\|\||[<>!=]=|[-+*/()<>!]))")
_OPERATORS = {"=?=": "==", "=!=": "!=", "&&": " and ", "||": " or ", "!": " not "}
_ALLOWED_NODES = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
                  ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Compare, ast.Eq, ast.NotEq, ast.Lt,
                  ast.LtE, ast.Gt, ast.GtE, ast.Constant, ast.Name, ast.Load, ast.Call)


class ExpressionError(ValueError):
    """An expression outside the supported subset."""


def compile_expression(text: str):
    """``text`` -> a code object evaluated by :func:`evaluate`; raises ExpressionError."""
    known = {name.lower(): name for name in ATTRIBUTES}
    out, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN_RE.match(text, position)
        if not match or match.end() == position:
            raise ExpressionError("cannot parse %r at %r" % (text, text[position:]))
        number, name, call, operator = match.groups()
        position = match.end()
        if number:
            out.append(number)
        elif name and call:
            if name.lower() != "time":
                raise ExpressionError("function %s() is not supported (only time())" % name)
            out.append("now")
        elif name:
            lowered = name.lower()
            if lowered in ("true", "false"):
                out.append(lowered.capitalize())
            elif lowered in known:
                out.append("attr_" + lowered)
            else:
                raise ExpressionError("attribute %s is not supported; the stand-in knows %s"
                                      % (name, ", ".join(ATTRIBUTES)))
        else:
            out.append(_OPERATORS.get(operator, operator))
    source = " ".join(out).strip()
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError("cannot parse %r: %s" % (text, exc.msg)) from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES) or (isinstance(node, ast.Call) and node.args):
            raise ExpressionError("cannot parse %r" % text)
        if isinstance(node, ast.Call):
            raise ExpressionError("cannot parse %r" % text)  # time() became the name "now"
    return compile(tree, "<classad>", "eval")


def evaluate(code, now: float, attributes: dict) -> bool:
    """True when the compiled expression holds for a job with ``attributes`` at time ``now``."""
    names = {"attr_" + key.lower(): value for key, value in attributes.items()}
    names["now"] = int(now)
    return bool(eval(code, {"__builtins__": {}}, names))  # nodes checked in compile_expression
