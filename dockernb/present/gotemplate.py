"""The subset of Go's text/template that docker's ``--format`` uses, with docker's functions (L7).

Supported: text and ``{{ }}`` actions with ``{{-``/``-}}`` trimming; pipelines with ``|``;
``.``, ``.A.B``, ``$``, ``$.A``, ``$var``, string/number/bool literals, parenthesised pipelines;
``if``/``else if``/``else``/``end``, ``range`` (with ``$i, $v :=``), ``with``; the functions
docker registers (json, join, split, lower, upper, title, pad, truncate, println) plus Go's
builtins (index, len, printf, print, eq, ne, lt, le, gt, ge, and, or, not, slice).

Values are Python data: mappings behave like Go maps (a missing key is ``<no value>``) unless
they are a :class:`Struct`, whose missing fields are an error worded like Go's. Errors raise
:class:`TemplateError` with Go's wording (``template: :1:2: executing "" at <.Nope>: ...``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Struct", "Template", "TemplateError", "go_str", "render", "tabwrite"]


class TemplateError(Exception):
    pass


class Struct(dict[str, Any]):
    """A mapping that renders like a Go struct: a missing field is an error, not ``<no value>``."""

    def __init__(self, type_name: str, data: Mapping[str, Any]) -> None:
        super().__init__(data)
        self.type_name = type_name


def go_str(v: Any) -> str:
    """Format a value as Go's ``fmt.Sprint`` would."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if v == int(v) and abs(v) < 1e21:
            return str(int(v)) if abs(v) < 1e6 else f"{v:g}".replace("e+0", "e+0")
        return repr(v)
    if isinstance(v, str):
        return v
    if isinstance(v, Mapping):
        return "map[" + " ".join(f"{go_str(k)}:{go_str(v[k])}" for k in sorted(v, key=str)) + "]"
    if isinstance(v, list | tuple):
        return "[" + " ".join(go_str(x) for x in v) + "]"
    return str(v)


def _truthy(v: Any) -> bool:
    if v is None:
        return False
    if isinstance(v, bool | int | float | str | list | tuple | dict):
        return bool(v)
    return True


def _json(v: Any) -> str:
    # a value may say how it marshals (Go's MarshalJSON); Go escapes <, > and & for HTML
    if hasattr(v, "__json__"):
        v = v.__json__()
    if isinstance(v, _NoValueType):  # a missing map key: Go's zero value for an interface, null
        return "null"
    text = json.dumps(v, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _printf(fmt: str, *args: Any) -> str:
    out, i, ai = [], 0, 0
    while i < len(fmt):
        c = fmt[i]
        if c != "%" or i + 1 >= len(fmt):
            out.append(c)
            i += 1
            continue
        m = re.match(r"%([-+ #0]*)(\d*)(?:\.(\d+))?([vsdqxtf%])", fmt[i:])
        if not m:
            out.append(c)
            i += 1
            continue
        flags, width, prec, verb = m.groups()
        i += m.end()
        if verb == "%":
            out.append("%")
            continue
        arg = args[ai] if ai < len(args) else None
        ai += 1
        if verb == "q":
            s = json.dumps(go_str(arg))
        elif verb == "d":
            s = str(int(arg)) if arg is not None else "%!d(<nil>)"
        elif verb == "x":
            s = format(int(arg), "x") if isinstance(arg, int) else go_str(arg).encode().hex()
        elif verb == "f":
            s = f"{float(arg or 0):.{prec or 6}f}"
        else:
            s = go_str(arg)
            if prec:
                s = s[: int(prec)]
        if width:
            s = s.ljust(int(width)) if "-" in flags else s.rjust(int(width))
        out.append(s)
    return "".join(out)


def _index(v: Any, *keys: Any) -> Any:
    for k in keys:
        if isinstance(v, Mapping):
            v = v.get(k)
        elif isinstance(v, list | tuple | str):
            v = v[int(k)]
        else:
            raise TemplateError(f"can't index item of type {type(v).__name__}")
    return v


def _cmp(op: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def f(a: Any, *bs: Any) -> bool:
        return any(op(a, b) for b in bs) if op is _eq else all(op(a, b) for b in bs)

    return f


def _eq(a: Any, b: Any) -> bool:
    return bool(a == b)


def _truncate(s: Any, n: int) -> str:
    text = go_str(s)
    return text[:n] if len(text) > n else text


FUNCS: dict[str, Callable[..., Any]] = {
    "json": _json,
    "join": lambda items, sep: sep.join(go_str(x) for x in (items or [])),
    "split": lambda s, sep: s.split(sep),
    "lower": lambda s: go_str(s).lower(),
    "upper": lambda s: go_str(s).upper(),
    "title": lambda s: go_str(s).title(),
    "pad": lambda s, left, right: " " * int(left) + go_str(s) + " " * int(right),
    "truncate": _truncate,
    "println": lambda *a: " ".join(go_str(x) for x in a) + "\n",
    "print": lambda *a: "".join(go_str(x) for x in a),
    "printf": _printf,
    "index": _index,
    "len": lambda v: len(v) if v is not None else 0,
    "slice": lambda v, *ix: v[ix[0] : ix[1]] if len(ix) > 1 else v[ix[0] :] if ix else v,
    "eq": _cmp(_eq),
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "and": lambda *a: next((x for x in a if not _truthy(x)), a[-1]),
    "or": lambda *a: next((x for x in a if _truthy(x)), a[-1]),
    "not": lambda a: not _truthy(a),
}

# --- lexer ------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<str>"(?:[^"\\]|\\.)*")|(?P<raw>`[^`]*`)|
    (?P<num>-?\d+(?:\.\d+)?)|
    (?P<decl>:=|=)|(?P<pipe>\|)|(?P<lp>\()|(?P<rp>\))|(?P<comma>,)|
    (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)|
    (?P<field>(?:\.[A-Za-z0-9_]+)+|\.)|
    (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
    )""",
    re.VERBOSE,
)


@dataclass
class _Tok:
    kind: str
    text: str


def _lex(src: str, where: str) -> list[_Tok]:
    toks, pos = [], 0
    while pos < len(src):
        if src[pos:].strip() == "":
            break
        m = _TOKEN.match(src, pos)
        if not m or m.end() == pos:
            raise TemplateError(f"template: {where}: unexpected {src[pos:].strip()[:1]!r} in command")
        kind = m.lastgroup or ""
        toks.append(_Tok(kind, m.group(kind)))
        pos = m.end()
    return toks


# --- parse tree -------------------------------------------------------------------


@dataclass
class _Node:
    kind: str  # text | action | if | range | with
    text: str = ""
    pipe: list[_Tok] = field(default_factory=list)
    body: list[_Node] = field(default_factory=list)
    orelse: list[_Node] = field(default_factory=list)
    decl: list[str] = field(default_factory=list)
    where: str = ""


_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)


def _parse(src: str) -> list[_Node]:
    root: list[_Node] = []
    stack: list[tuple[_Node | None, list[_Node]]] = [(None, root)]
    pos = 0
    pieces: list[tuple[str, Any]] = []
    for m in _ACTION.finditer(src):
        pieces.append(("text", src[pos : m.start()]))
        pieces.append(("action", m))
        pos = m.end()
    pieces.append(("text", src[pos:]))
    # apply trim markers
    for i, (kind, val) in enumerate(pieces):
        if kind != "action":
            continue
        if val.group(1) and i > 0:
            pieces[i - 1] = ("text", pieces[i - 1][1].rstrip())
        if val.group(3) and i + 1 < len(pieces):
            pieces[i + 1] = ("text", pieces[i + 1][1].lstrip())
    for kind, val in pieces:
        body = stack[-1][1]
        if kind == "text":
            if val:
                body.append(_Node("text", text=val))
            continue
        line = src[: val.start()].count("\n") + 1
        col = val.start() - (src.rfind("\n", 0, val.start()) + 1) + 2
        where = f":{line}:{col}"
        inner = val.group(2).strip()
        word = inner.split(None, 1)[0] if inner else ""
        rest = inner[len(word) :].strip()
        if inner.startswith("/*"):
            continue
        if word in ("if", "range", "with"):
            node = _Node(word, where=where)
            toks = _lex(rest, where)
            if word == "range" and any(t.kind == "decl" for t in toks):
                i = next(i for i, t in enumerate(toks) if t.kind == "decl")
                node.decl = [t.text for t in toks[:i] if t.kind == "var"]
                toks = toks[i + 1 :]
            node.pipe = toks
            body.append(node)
            stack.append((node, node.body))
        elif word == "else":
            top = stack[-1][0]
            if top is None:
                raise TemplateError(f"template: {where}: unexpected {{{{else}}}}")
            if rest.startswith("if "):
                # else if: a nested if inside the else branch that shares the same end
                nested = _Node("if", where=where, pipe=_lex(rest[3:], where))
                top.orelse.append(nested)
                stack[-1] = (top, top.orelse)
                stack.append((nested, nested.body))
                nested.text = "elseif"
            else:
                stack[-1] = (top, top.orelse)
        elif word == "end":
            if len(stack) == 1:
                raise TemplateError(f"template: {where}: unexpected {{{{end}}}}")
            node_ = stack.pop()[0]
            while node_ is not None and node_.text == "elseif":
                node_ = stack.pop()[0]
        else:
            body.append(_Node("action", pipe=_lex(inner, where), where=where))
    if len(stack) != 1:
        raise TemplateError("template: :1: unexpected EOF")
    return root


# --- evaluation -------------------------------------------------------------------


class _Exec:
    def __init__(self, root: Any, type_name: str) -> None:
        self.root = root
        self.vars: dict[str, Any] = {"$": root}
        self.type_name = type_name

    def field(self, dot: Any, path: str, where: str, shown: str) -> Any:
        v = dot
        for name in [p for p in path.split(".") if p]:
            if isinstance(v, Struct):
                if name not in v:
                    raise TemplateError(
                        f'template: {where}: executing "" at <{shown}>: can\'t evaluate field {name} '
                        f"in type {v.type_name}"
                    )
                v = v[name]
            elif isinstance(v, Mapping):
                v = v.get(name, _NoValue)
                if v is _NoValue:
                    return _NoValue
            elif v is None:
                raise TemplateError(f'template: {where}: executing "" at <{shown}>: nil pointer evaluating {name}')
            elif hasattr(v, name):
                v = getattr(v, name)
                if callable(v):
                    v = v()
            else:
                raise TemplateError(
                    f'template: {where}: executing "" at <{shown}>: can\'t evaluate field {name} '
                    f"in type {type(v).__name__}"
                )
        return v

    def operand(self, tok: _Tok, dot: Any, where: str) -> Any:
        if tok.kind == "field":
            return dot if tok.text == "." else self.field(dot, tok.text, where, tok.text)
        if tok.kind == "var":
            name, _, path = tok.text.partition(".")
            if name not in self.vars:
                raise TemplateError(f"template: {where}: undefined variable: {name}")
            return self.field(self.vars[name], path, where, tok.text) if path else self.vars[name]
        if tok.kind == "str":
            return json.loads(tok.text)
        if tok.kind == "raw":
            return tok.text[1:-1]
        if tok.kind == "num":
            return float(tok.text) if "." in tok.text else int(tok.text)
        if tok.kind == "ident":
            if tok.text in ("true", "false"):
                return tok.text == "true"
            if tok.text == "nil":
                return None
            return self.call(tok.text, [], dot, where)
        raise TemplateError(f"template: {where}: unexpected {tok.text!r} in operand")

    def call(self, name: str, args: list[Any], dot: Any, where: str) -> Any:
        fn = FUNCS.get(name)
        if fn is None:
            raise TemplateError(f'template: {where}: function "{name}" not defined')
        try:
            return fn(*args)
        except TemplateError:
            raise
        except Exception as err:
            raise TemplateError(f'template: {where}: executing "" at <{name}>: error calling {name}: {err}') from err

    def pipeline(self, toks: list[_Tok], dot: Any, where: str) -> Any:
        # split on top-level pipes, resolving parentheses recursively
        cmds: list[list[Any]] = [[]]
        i = 0
        while i < len(toks):
            t = toks[i]
            if t.kind == "pipe":
                cmds.append([])
            elif t.kind == "lp":
                depth, j = 1, i + 1
                while j < len(toks) and depth:
                    depth += {"lp": 1, "rp": -1}.get(toks[j].kind, 0)
                    j += 1
                cmds[-1].append(("sub", toks[i + 1 : j - 1]))
                i = j
                continue
            else:
                cmds[-1].append(t)
            i += 1
        value: Any = _NoValue
        for n, cmd in enumerate(cmds):
            if not cmd:
                raise TemplateError(f"template: {where}: missing command")
            head = cmd[0]
            evaluated = [self.pipeline(a[1], dot, where) if isinstance(a, tuple) else None for a in cmd]
            if isinstance(head, _Tok) and head.kind in ("field", "var") and len(cmd) > 1:
                # a method with arguments, like docker's {{.Label "com.example.key"}}
                method = self.operand(head, dot, where)
                if not callable(method):
                    raise TemplateError(f"template: {where}: can't give argument to non-function {head.text}")
                args = [
                    evaluated[k] if isinstance(a, tuple) else self.operand(a, dot, where)
                    for k, a in enumerate(cmd[1:], start=1)
                ]
                if n > 0:
                    args.append(value)
                value = method(*args)
            elif isinstance(head, _Tok) and head.kind == "ident" and head.text not in ("true", "false", "nil"):
                args = [
                    evaluated[k] if isinstance(a, tuple) else self.operand(a, dot, where)
                    for k, a in enumerate(cmd[1:], start=1)
                ]
                if n > 0:
                    args.append(value)
                value = self.call(head.text, args, dot, where)
            else:
                if len(cmd) > 1:
                    raise TemplateError(f"template: {where}: can't give argument to non-function {head}")
                value = evaluated[0] if isinstance(head, tuple) else self.operand(head, dot, where)
        return value

    def run(self, nodes: list[_Node], dot: Any, out: list[str]) -> None:
        for node in nodes:
            if node.kind == "text":
                out.append(node.text)
            elif node.kind == "action":
                v = self.pipeline(node.pipe, dot, node.where)
                if node.pipe and node.pipe[-1].kind == "decl":
                    continue
                out.append("<no value>" if v is _NoValue else go_str(v))
            elif node.kind == "if":
                v = self.pipeline(node.pipe, dot, node.where)
                self.run(node.body if _truthy(None if v is _NoValue else v) else node.orelse, dot, out)
            elif node.kind == "with":
                v = self.pipeline(node.pipe, dot, node.where)
                if _truthy(None if v is _NoValue else v):
                    self.run(node.body, v, out)
                else:
                    self.run(node.orelse, dot, out)
            elif node.kind == "range":
                v = self.pipeline(node.pipe, dot, node.where)
                items: Sequence[tuple[Any, Any]]
                if isinstance(v, Mapping):
                    items = [(k, v[k]) for k in sorted(v, key=str)]
                elif isinstance(v, list | tuple):
                    items = list(enumerate(v))
                else:
                    items = []
                if not items:
                    self.run(node.orelse, dot, out)
                for k, item in items:
                    if len(node.decl) == 2:
                        self.vars[node.decl[0]], self.vars[node.decl[1]] = k, item
                    elif len(node.decl) == 1:
                        self.vars[node.decl[0]] = item
                    self.run(node.body, item, out)


class _NoValueType:
    def __repr__(self) -> str:
        return "<no value>"


_NoValue: Any = _NoValueType()


class Template:
    """A parsed template; ``render(data)`` runs it."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.nodes = _parse(source)

    def render(self, data: Any) -> str:
        out: list[str] = []
        _Exec(data, type(data).__name__).run(self.nodes, data, out)
        return "".join(out)


def render(source: str, data: Any) -> str:
    return Template(source).render(data)


def tabwrite(rows: Sequence[str], minwidth: int = 10, padding: int = 3) -> str:
    """Align tab-separated cells like Go's tabwriter(minwidth=10, tabwidth=1, padding=3, ' ').

    As in Go, the last cell of a line is not padded, and only cells followed by a tab align.
    """
    split = [r.split("\t") for r in rows]
    ncols = max((len(c) for c in split), default=0)
    widths = [0] * ncols
    for cells in split:
        for i, c in enumerate(cells[:-1]):
            widths[i] = max(widths[i], len(c) + padding, minwidth)
    lines = []
    for cells in split:
        parts = [c.ljust(widths[i]) for i, c in enumerate(cells[:-1])]
        parts.append(cells[-1])
        lines.append("".join(parts))
    return "\n".join(lines)
