"""Safe parsing of model and user text into expressions in `x`; nothing in the text is ever executed.

Model answers are untrusted text. They reach sympy only through this module:

1. `normalize` rewrites the forms small models and people actually write into Python syntax:
   `^`, `ln`, `arctan`/`arcsinh`/…, `e^x`, implicit multiplication (`2x`, `x sin(x)`, `sin x`),
   `sin^2(x)`, `|x|`, a trailing `+ C`, LaTeX (`\\frac`, `\\sqrt`, `\\left(`, `\\cdot`, `\\sin`, …),
   a leading `∫ … dx =` or `F(x) =`, `$…$` / `\\(…\\)` / code-fence wrappers and unicode
   (`π √ · − × ²`).
2. Python's `ast` module parses that text (it only builds a syntax tree, it runs nothing), and
   `_Builder` walks the tree over an allow-list: numbers, the name `x`, `pi`, `E`, `I`, + − × ÷ and
   powers, unary minus, and calls to the functions in `FUNCTIONS`. Anything else (`Integral`,
   `integrate`, `Derivative`, `diff`, `Subs`, `Sum`, `limit`, attributes, lambdas, strings,
   subscripts, dunder names, other variables) is refused with a `ParseError` saying why.
   A constant of integration (`C`, `c`, `K`, `C1`, `constant`, …) is dropped wherever it is an
   added term, inside parentheses and under a minus sign too (`log(x) - (1/sin(x) + C)`), and
   `parse_answer` says which one was dropped; in any other role (`C*x`, `sin(C)`) it is refused.
3. The result is a small immutable tree of tuples (`Node`), which the verifier evaluates
   numerically without sympy, and which `to_sympy` turns into a sympy expression built with
   `evaluate=False` (so `parse` never computes anything large).

Limits: 2,000 characters, 100 levels of nesting, integer literals of at most 100 digits, and
constant powers whose exponent exceeds 10,000 in size (`9**9**9`) or whose value overflows a float
(`exp(exp(exp(1000)))`) are refused instead of being built.
"""

from __future__ import annotations

import ast
import cmath
import keyword
import math
import re
from functools import lru_cache
from typing import TYPE_CHECKING

from engine.errors import LadderError

if TYPE_CHECKING:
    import sympy

MAX_CHARS = 2000
MAX_DEPTH = 100
MAX_INT_DIGITS = 100
MAX_CONST_EXPONENT = 1e4

# A parsed expression: ("x",), ("num", text), ("const", "pi"|"E"|"I"), ("neg", a), ("add"|"sub"|
# "mul"|"div"|"pow", a, b) or ("fn", name, a). Tuples are hashable, so trees can key caches.
Node = tuple

# The one-argument functions an answer may use (sympy's names).
FUNCTIONS = (
    "sin", "cos", "tan", "cot", "sec", "csc",
    "asin", "acos", "atan", "acot", "asec", "acsc",
    "sinh", "cosh", "tanh", "coth", "sech", "csch",
    "asinh", "acosh", "atanh", "acoth", "asech", "acsch",
    "exp", "log", "sqrt", "abs", "sign", "floor", "ceiling",
)

# Other spellings of the same functions.
ALIASES = {
    "ln": "log", "Abs": "abs", "sgn": "sign", "ceil": "ceiling", "cosec": "csc", "ctg": "cot", "tg": "tan",
    **{f"arc{f}": f"a{f}" for f in ("sin", "cos", "tan", "cot", "sec", "csc", "sinh", "cosh", "tanh", "coth", "sech", "csch")},
    **{f"ar{f}": f"a{f}" for f in ("sinh", "cosh", "tanh", "coth", "sech", "csch")},
    **{f"arg{f}": f"a{f}" for f in ("sinh", "cosh", "tanh", "coth", "sech", "csch")},
    "arctg": "atan", "arcctg": "acot",
}
CONSTANTS = {"pi": "pi", "E": "E", "e": "E", "I": "I"}

# Names that mean "not an answer": refused with a specific reason instead of "unknown name".
UNEVALUATED = {
    "Integral", "integrate", "Derivative", "diff", "Subs", "Sum", "summation", "Product", "limit",
    "Limit", "int", "integral", "dx", "d", "solve", "simplify", "series", "oo", "zoo", "nan", "inf",
    "infinity", "Infinity", "NaN", "factorial", "gamma", "Function", "Symbol", "lambda", "eval",
}
_INVERSE = {"sin": "asin", "cos": "acos", "tan": "atan", "cot": "acot", "sec": "asec", "csc": "acsc",
            "sinh": "asinh", "cosh": "acosh", "tanh": "atanh", "coth": "acoth", "sech": "asech", "csch": "acsch"}


# Names that may stand for the constant of integration, as an added term only.
CONSTANTS_OF_INTEGRATION = frozenset({
    "C", "c", "K", "k", "constant", "const", *(f"C{i}" for i in range(10)), *(f"C_{i}" for i in range(10)),
})


class ParseError(LadderError):
    """The text is not an expression in x that the allow-list accepts; the message says why."""


# ---------------------------------------------------------------------------------------------
# 1. Text normalisation
# ---------------------------------------------------------------------------------------------

_UNICODE = {
    "−": "-", "–": "-", "—": "-", "·": "*", "⋅": "*", "×": "*", "∗": "*", "÷": "/", "π": "pi", "√": " sqrt ",
    "∞": " oo ", "\u00a0": " ", "\u200b": "", "（": "(", "）": ")",
}
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_SUPERSCRIPT_RUN = re.compile(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺]+")
_FENCE = re.compile(r"^```[A-Za-z]*\s*\n?(.*?)\n?```$", re.S)
_CONSTANT_OF_INTEGRATION = re.compile(
    r"\s*\+\s*(?:C|c|K|k|C_?\d|C_\{\d\}|constant|const|\\text\{const\}|\\mathrm\{C\}|C₁|\(C\))\s*$")
_DEFINITION = re.compile(r"^(?:[A-Za-z]\w*(?:\s*\(\s*x\s*\))?|∫.*d\s*x|.*\bdx)$", re.S)
_LEADING_CONSTANT = re.compile(r"^\s*(?:C|K|constant)\s*\+\s*")
_LATEX_DROP = re.compile(r"\\(?:left|right|big|Big|bigg|Bigg|displaystyle|limits)\b|\\[,;:! ]|\\quad|\\qquad")
_LATEX_FUNC = re.compile(r"\\(?:operatorname|mathrm|text|rm)\s*\{\s*([A-Za-z]+)\s*\}")
_LATEX_CMD = re.compile(r"\\([A-Za-z]+)")
_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z_0-9]*)|(?P<op>\*\*|[-+*/^(),|])|(?P<other>\S))")


def _braced(text: str, start: int) -> tuple[str, int]:
    """The content of the {...} group opening at text[start] and the index after it."""
    if start >= len(text) or text[start] != "{":
        # \frac12 style: a single character argument
        if start < len(text):
            return text[start], start + 1
        raise ParseError("LaTeX command without its argument")
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1:i], i + 1
    raise ParseError("unbalanced braces in LaTeX")


def _latex(text: str) -> str:
    """Rewrite the LaTeX an answer may contain into plain infix text."""
    text = _LATEX_DROP.sub(" ", text)
    text = _LATEX_FUNC.sub(r"\1", text)
    text = text.replace("\\cdot", "*").replace("\\times", "*").replace("\\div", "/")
    out, i = [], 0
    while i < len(text):
        m = re.compile(r"\\[dt]?frac\s*|\\sqrt\s*").match(text, i)
        if not m:
            out.append(text[i])
            i += 1
            continue
        j = m.end()
        if m.group().startswith("\\sqrt"):
            index = None
            if j < len(text) and text[j] == "[":
                end = text.find("]", j)
                if end < 0:
                    raise ParseError("unbalanced [ in \\sqrt")
                index, j = text[j + 1:end], end + 1
            body, j = _braced(text, j)
            body = _latex(body)
            out.append(f"(({body})**(1/({_latex(index)})))" if index else f"sqrt({body})")
        else:
            num, j = _braced(text, j)
            den, j = _braced(text, j)
            out.append(f"(({_latex(num)})/({_latex(den)}))")
        i = j
    text = "".join(out)
    text = text.replace("\\infty", " oo ").replace("\\pi", " pi ").replace("\\int", "∫")
    text = _LATEX_CMD.sub(r" \1 ", text)
    return text.replace("{", "(").replace("}", ")")


def _strip_wrappers(text: str) -> str:
    text = text.strip()
    m = _FENCE.match(text)
    if m:
        text = m.group(1).strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("`", "`")):
        if text.startswith(left) and text.endswith(right) and len(text) >= len(left) + len(right):
            text = text[len(left):len(text) - len(right)].strip()
    return text.rstrip(".").strip()


def normalize(text: str) -> str:
    """Rewrite `text` into the Python-syntax expression that `parse` reads (see the module docstring)."""
    return _normalize(text)[0]


def _normalize(text: str) -> tuple[str, str | None]:
    """`normalize`, plus the constant of integration it stripped from the ends (or None)."""
    if not isinstance(text, str):
        raise ParseError("expected text")
    if len(text) > MAX_CHARS:
        raise ParseError(f"expression too long ({len(text)} characters, limit {MAX_CHARS})")
    text = _strip_wrappers(text)
    if "\\" in text or "{" in text:
        text = _latex(text)
    for a, b in _UNICODE.items():
        text = text.replace(a, b)
    text = _SUPERSCRIPT_RUN.sub(lambda m: "**(" + m.group().translate(_SUPERSCRIPTS) + ")", text)
    # "∫ x dx = x^2/2", "F(x) = …", "y = …": the answer is what follows the last "=".
    if "=" in text:
        *lefts, text = text.split("=")
        if not all(_DEFINITION.match(left.strip()) for left in lefts):
            raise ParseError("an equation is not an expression (only `F(x) = …` or `∫ … dx = …` may precede the answer)")
    dropped = None
    text = text.strip()
    for pattern in (_CONSTANT_OF_INTEGRATION, _LEADING_CONSTANT):
        m = pattern.search(text)
        if m:
            dropped = dropped or _constant_name(m.group())
            text = (text[:m.start()] + text[m.end():]).strip()
    if not text:
        raise ParseError("only a constant of integration, no expression in x" if dropped else "empty expression")
    if "∫" in text:
        raise ParseError("an unevaluated integral (∫) is not an answer")
    return " ".join(_tokens(text.replace("^", "**"))), dropped


def _constant_name(matched: str) -> str:
    """`+ C_1 ` → `C_1`: how the stripped constant of integration was written."""
    return matched.strip().strip("+").strip() or "C"


_CHARACTER_REASONS = {
    "'": "strings are not allowed", '"': "strings are not allowed", ".": "attribute access is not allowed",
    "[": "subscripts are not allowed", "]": "subscripts are not allowed", ":": "lambdas and slices are not allowed",
    ";": "one expression only", "=": "one expression only", "<": "comparisons are not an expression in x",
    ">": "comparisons are not an expression in x", "!": "factorials are not allowed", "@": "operator @ is not allowed",
    "%": "operator % is not allowed", "&": "operator & is not allowed", "~": "operator ~ is not allowed",
    "∫": "an unevaluated integral (∫) is not an answer", "{": "unbalanced braces", "}": "unbalanced braces",
}


def _split_name(name: str) -> list[str] | None:
    """Split a run of letters like `xsin` or `xe` into known names, longest first; None if impossible."""
    known = sorted({"x", *CONSTANTS, *FUNCTIONS, *ALIASES}, key=len, reverse=True)

    @lru_cache(maxsize=None)
    def split(rest: str) -> tuple[str, ...] | None:
        if not rest:
            return ()
        for k in known:
            if rest.startswith(k):
                tail = split(rest[len(k):])
                if tail is not None:
                    return (k, *tail)
        return None

    parts = split(name) if len(name) <= 40 else None
    return list(parts) if parts else None


def _is_function(tok: str) -> bool:
    return tok in FUNCTIONS or tok in ALIASES


def _tokens(text: str) -> list[str]:
    """Tokenise, turn |…| into abs(…), and make implicit multiplication and `sin x` explicit."""
    raw: list[str] = []
    for m in _TOKEN.finditer(text):
        tok = m.group("num") or m.group("name") or m.group("op") or m.group("other")
        if tok is None:
            continue
        if m.group("other"):
            raise ParseError(_CHARACTER_REASONS.get(tok, f"unexpected character {tok!r}"))
        if m.group("name"):
            if keyword.iskeyword(tok):
                raise ParseError(f"the Python keyword {tok!r} is not allowed")
            if "__" in tok:
                raise ParseError(f"name {tok!r} is not allowed")
            if tok not in ("x", *CONSTANTS, *FUNCTIONS, *ALIASES, *UNEVALUATED) and "__" not in tok:
                parts = _split_name(tok)
                if parts:
                    raw.extend(parts)
                    continue
        raw.append(tok)
    raw = _bars(raw)
    raw = [ALIASES.get(t, t) for t in raw]
    raw = _function_powers(raw)
    return _implicit(raw)


def _bars(toks: list[str]) -> list[str]:
    """`|x|` → `abs ( x )`: a bar opens after an operator or at the start, otherwise it closes."""
    out: list[str] = []
    open_bars = 0
    for t in toks:
        if t != "|":
            out.append(t)
            continue
        prev = out[-1] if out else None
        opening = prev is None or prev in ("+", "-", "*", "/", "**", "(", ",") or _is_function(prev) or open_bars == 0
        if opening:
            out += ["abs", "("]
            open_bars += 1
        else:
            out.append(")")
            open_bars -= 1
    if open_bars:
        raise ParseError("unbalanced | bars")
    return out


def _function_powers(toks: list[str]) -> list[str]:
    """`sin ** 2 ( x )` → `( sin ( x ) ) ** 2`; `sin ** ( - 1 ) ( x )` → `asin ( x )`."""
    out: list[str] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        if t in FUNCTIONS and i + 2 < len(toks) and toks[i + 1] == "**":
            # exponent: a number, "-1", or a parenthesised signed number
            j = i + 2
            exp: list[str] = []
            if toks[j] == "(":
                k = j + 1
                while k < len(toks) and toks[k] != ")":
                    k += 1
                exp, j = toks[j + 1:k], k + 1
            elif toks[j] == "-" and j + 1 < len(toks):
                exp, j = toks[j:j + 2], j + 2
            else:
                exp, j = [toks[j]], j + 1
            numeric = all(re.fullmatch(r"[-+]|[\d.]+", e) for e in exp)
            if j < len(toks) and toks[j] != "(" and numeric and _atom_end(toks, j) > j:
                end = _atom_end(toks, j)  # `sin^2 x`: the argument is the atom that follows
                toks = toks[:j] + ["(", *toks[j:end], ")"] + toks[end:]
            if j < len(toks) and toks[j] == "(" and numeric:
                depth, k = 0, j
                while k < len(toks):
                    depth += toks[k] == "("
                    depth -= toks[k] == ")"
                    if depth == 0:
                        break
                    k += 1
                inner = _function_powers(toks[j:k + 1])
                if "".join(exp) == "-1" and t in _INVERSE:
                    out += [_INVERSE[t], *inner]
                else:
                    out += ["(", t, *inner, ")", "**", "(", *exp, ")"]
                i = k + 1
                continue
        out.append(t)
        i += 1
    return out


def _atom_end(toks: list[str], i: int) -> int:
    """End of the argument of a parenthesis-free call like `sin 2x` or `ln x^2`."""
    j = i
    if j + 1 < len(toks) and toks[j] in FUNCTIONS and toks[j + 1] == "(":  # `ln abs(x)`, `sin sqrt(x)`
        depth = 0
        for k in range(j + 1, len(toks)):
            depth += (toks[k] == "(") - (toks[k] == ")")
            if depth == 0:
                return k + 1
        return j
    while j < len(toks) and (re.fullmatch(r"[\d.]+(?:[eE][-+]?\d+)?", toks[j]) or toks[j] == "x" or toks[j] in CONSTANTS):
        j += 1
        if j + 1 < len(toks) and toks[j] == "**" and (toks[j + 1] == "x" or toks[j + 1][0].isdigit()):
            j += 2
    return j


def _ends_operand(tok: str, nxt: str) -> bool:
    if tok == ")" or tok[0].isdigit() or tok[0] == "." or tok in ("x", *CONSTANTS):
        return True
    # an unknown name like `y` multiplies (`2y` → `2*y`) unless it is called (`y(…)`: refused later)
    return (tok[0].isalpha() or tok[0] == "_") and not _is_function(tok) and tok not in UNEVALUATED and nxt != "("


def _implicit(toks: list[str]) -> list[str]:
    """Insert the `*` of `2x`, `x sin(x)`, `(x+1)(x-1)`; `sin x` / `ln 2x` become calls."""
    out: list[str] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        if t in FUNCTIONS and i + 1 < len(toks) and toks[i + 1] != "(":
            end = _atom_end(toks, i + 1)
            if end > i + 1:
                toks = toks[:i] + [t, "(", *_implicit(toks[i + 1:end]), ")"] + toks[end:]
        starts_operand = t == "(" or t[0].isdigit() or t[0] == "." or t[0].isalpha() or t[0] == "_"
        if out and starts_operand and _ends_operand(out[-1], t):
            out.append("*")
        out.append(t)
        i += 1
    return out


# ---------------------------------------------------------------------------------------------
# 2. Allow-list over Python's syntax tree
# ---------------------------------------------------------------------------------------------

_BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}


def _const_value(node: Node) -> complex | None:
    """Approximate value of a constant subtree (None if it depends on x); raises on overflow."""
    op = node[0]
    if op == "x":
        return None
    if op == "num":
        return complex(float(node[1]))
    if op == "const":
        return {"pi": math.pi, "E": math.e, "I": 1j}[node[1]]
    vals = [_const_value(a) for a in node[1:] if isinstance(a, tuple)]
    if any(v is None for v in vals):
        return None
    try:
        if op == "neg":
            return -vals[0]
        if op in ("add", "sub", "mul", "div"):
            a, b = vals
            return {"add": a + b, "sub": a - b, "mul": a * b, "div": a / b if b else complex("nan")}[op]
        if op == "pow":
            a, b = vals
            if abs(b) > MAX_CONST_EXPONENT and abs(a) not in (0.0, 1.0):
                raise ParseError("number too large (constant power with a huge exponent)")
            return a ** b if a else (0j if b.real > 0 else complex("nan"))
        return _fn_value(node[1], vals[0])
    except (OverflowError, ZeroDivisionError):
        raise ParseError("number too large (a constant overflows)") from None


def _fn_value(name: str, v: complex) -> complex:
    if name == "abs":
        return complex(abs(v))
    if name in ("sign", "floor", "ceiling"):
        return v
    if name == "log":
        return cmath.log(v) if v else complex("nan")
    if name in ("exp", "sinh", "cosh") and abs(v.real) > 700:
        raise OverflowError
    f = getattr(cmath, name, None)
    if f is None:  # cot, sec, acoth, ...: finite for a finite argument or nan; magnitude is what matters
        return v
    try:
        return f(v)
    except ValueError:
        return complex("nan")


class _Builder:
    """Walk a Python syntax tree over the allow-list, returning a Node.

    `additive` is True while the path from the root has only passed through sums, differences
    and signs: there a constant of integration is an added term, so it is dropped (the method
    returns None for it and records its name in `dropped`)."""

    def __init__(self) -> None:
        self.dropped: list[str] = []

    def build(self, node: ast.AST, depth: int = 0, additive: bool = False) -> Node | None:
        if depth > MAX_DEPTH:
            raise ParseError(f"expression nested too deeply (limit {MAX_DEPTH})")
        d = depth + 1
        if isinstance(node, ast.Expression):
            tree = self.build(node.body, d, additive=True)
            if tree is None:
                raise ParseError("only a constant of integration, no expression in x")
            return tree
        if additive and isinstance(node, ast.Name) and node.id in CONSTANTS_OF_INTEGRATION:
            self.dropped.append(node.id)
            return None
        if additive and isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = self.build(node.operand, d, additive=True)
            if inner is None or isinstance(node.op, ast.UAdd):
                return inner
            return self.checked(("neg", inner))
        if additive and isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            left = self.build(node.left, d, additive=True)
            right = self.build(node.right, d, additive=True)
            if right is None:
                return left
            if left is None:
                return right if isinstance(node.op, ast.Add) else self.checked(("neg", right))
            return self.checked((_BINOPS[type(node.op)], left, right))
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ParseError(f"{type(v).__name__} literals are not allowed")
            if isinstance(v, int) and len(str(v)) > MAX_INT_DIGITS:
                raise ParseError(f"integer literal longer than {MAX_INT_DIGITS} digits")
            if isinstance(v, float) and not math.isfinite(v):
                raise ParseError("number too large")
            return ("num", repr(v) if isinstance(v, float) else str(v))
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return self.checked(("neg", self.build(node.operand, d)))
            if isinstance(node.op, ast.UAdd):
                return self.build(node.operand, d)
            raise ParseError(f"operator {type(node.op).__name__} is not allowed")
        if isinstance(node, ast.BinOp):
            op = _BINOPS.get(type(node.op))
            if op is None:
                raise ParseError(f"operator {type(node.op).__name__} is not allowed")
            return self.checked((op, self.build(node.left, d), self.build(node.right, d)))
        if isinstance(node, ast.Call):
            return self.call(node, d)
        if isinstance(node, ast.Attribute):
            raise ParseError("attribute access is not allowed")
        if isinstance(node, ast.Lambda):
            raise ParseError("lambda is not allowed")
        if isinstance(node, ast.Compare):
            raise ParseError("comparisons are not an expression in x")
        if isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)):
            raise ParseError("several expressions: give one expression in x")
        raise ParseError(f"{type(node).__name__} is not allowed in an expression")

    def name(self, name: str) -> Node:
        if "__" in name:
            raise ParseError(f"name {name!r} is not allowed")
        if name == "x":
            return ("x",)
        if name in CONSTANTS:
            return ("const", CONSTANTS[name])
        if name in UNEVALUATED:
            raise ParseError(f"{name!r} is not allowed: the answer must be an explicit expression in x")
        if name in FUNCTIONS:
            raise ParseError(f"function {name!r} used without an argument")
        if name in CONSTANTS_OF_INTEGRATION:
            raise ParseError(f"unknown name {name!r}: a constant of integration may only be added "
                             f"(`+ {name}`), not multiplied or used inside a function")
        raise ParseError(f"unknown name {name!r}: only the variable x, pi, E and elementary functions are allowed")

    def call(self, node: ast.Call, d: int) -> Node:
        if not isinstance(node.func, ast.Name):
            if isinstance(node.func, ast.Attribute):
                raise ParseError("attribute access is not allowed")
            raise ParseError("only named functions can be called")
        name = ALIASES.get(node.func.id, node.func.id)
        if name not in FUNCTIONS:
            self.name(name)  # raises the specific reason
            raise ParseError(f"{name!r} is not a function")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise ParseError(f"{name}() takes plain arguments only")
        args = [self.build(a, d) for a in node.args]
        if name == "log" and len(args) == 2:  # log(x, b): base-b logarithm
            return self.checked(("div", ("fn", "log", args[0]), ("fn", "log", args[1])))
        if len(args) != 1:
            raise ParseError(f"{name}() takes one argument")
        return self.checked(("fn", name, args[0]))

    @staticmethod
    def checked(node: Node) -> Node:
        _const_value(node)  # raises on huge constants; x-dependent subtrees return at once
        return node


def parse_tree(text: str) -> Node:
    """Parse `text` into a Node (see the module docstring); raises ParseError with a reason."""
    return parse_answer(text)[0]


@lru_cache(maxsize=4096)
def parse_answer(text: str) -> tuple[Node, str | None]:
    """`parse_tree`, plus the constant of integration that was dropped from the text (as written,
    e.g. "C" or "K"), or None when there was none."""
    norm, dropped = _normalize(text)
    depth = 0
    for ch in norm:
        depth += ch == "("
        depth -= ch == ")"
        if depth > MAX_DEPTH:
            raise ParseError(f"expression nested too deeply (limit {MAX_DEPTH})")
    try:
        tree = ast.parse(norm, mode="eval")
    except SyntaxError as e:
        raise ParseError(f"not a valid expression ({e.msg})") from None
    except (ValueError, MemoryError, RecursionError) as e:
        raise ParseError(f"not a valid expression ({type(e).__name__})") from None
    builder = _Builder()
    node = builder.build(tree)
    return node, dropped or (builder.dropped[0] if builder.dropped else None)


def depends_on_x(node: Node) -> bool:
    """True if the tree contains the variable x."""
    return node[0] == "x" or any(isinstance(a, tuple) and depends_on_x(a) for a in node[1:])


def size(node: Node) -> int:
    """Number of nodes in the tree."""
    return 1 + sum(size(a) for a in node[1:] if isinstance(a, tuple))


# ---------------------------------------------------------------------------------------------
# 3. sympy
# ---------------------------------------------------------------------------------------------

X_NAME = "x"


def to_sympy(node: Node, evaluate: bool = False) -> "sympy.Expr":
    """Build the sympy expression of a Node; with evaluate=False nothing is simplified or computed."""
    import sympy as sp

    x = sp.Symbol(X_NAME)
    functions = {f: getattr(sp, f) for f in FUNCTIONS if f not in ("abs", "sqrt")}
    functions["abs"] = sp.Abs

    def neg(e: sp.Expr) -> sp.Expr:
        return -e if e.is_Number else sp.Mul(sp.Integer(-1), e, evaluate=evaluate)

    def go(n: Node) -> sp.Expr:
        op = n[0]
        if op == "x":
            return x
        if op == "num":
            return sp.Integer(int(n[1])) if n[1].lstrip("-").isdigit() else sp.Float(n[1])
        if op == "const":
            return {"pi": sp.pi, "E": sp.E, "I": sp.I}[n[1]]
        if op == "neg":
            return neg(go(n[1]))
        if op == "fn":
            arg = go(n[2])
            if n[1] == "sqrt":
                return sp.Pow(arg, sp.Rational(1, 2), evaluate=evaluate)
            return functions[n[1]](arg, evaluate=evaluate)
        a, b = go(n[1]), go(n[2])
        if op == "add":
            return sp.Add(a, b, evaluate=evaluate)
        if op == "sub":
            return sp.Add(a, neg(b), evaluate=evaluate)
        if op == "mul":
            return sp.Mul(a, b, evaluate=evaluate)
        if op == "div":
            return sp.Mul(a, sp.Pow(b, sp.Integer(-1), evaluate=evaluate), evaluate=evaluate)
        return sp.Pow(a, b, evaluate=evaluate)

    return go(node)


def parse(text: str, *, evaluate: bool = False) -> "sympy.Expr":
    """Parse untrusted `text` into a sympy expression in the symbol x, never executing it.

    With evaluate=False (the default) the expression keeps the structure of the text; call
    `.doit()` or use `parse_integrand` for a canonical, simplified-by-construction form.
    Raises ParseError with a one-line reason for anything outside the allow-list.
    """
    return to_sympy(parse_tree(text), evaluate=evaluate)


def parse_integrand(text: str) -> "sympy.Expr":
    """Parse an integrand (e.g. for the variant generator) into an ordinary evaluated sympy expression.

    Same allow-list and limits as `parse`; constants are already bounded by the parser, so the
    automatic evaluation sympy does while building cannot blow up.
    """
    return to_sympy(parse_tree(text), evaluate=True)

