"""A drawing of an IVR flow for the admins' editor: nodes and their labelled exits, as SVG made
on the server from the parsed flow (no script library in the browser).

Layout: the nodes in layers by their distance from the start (breadth first, exits in the order the
flow declares them); nodes nothing reaches go in a last layer; targets in other flows are drawn as
their own boxes. An exit to the next layers is a curve downwards, one within a layer a straight
arrow, one back (a loop, a retry) bends around the right of the boxes. Every text is escaped: names
come from a YAML file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from html import escape
from typing import Any, Protocol

from callcenter.core.ivr import model as m
from callcenter.web.i18n import N_

BOX_W, BOX_H = 168, 46
GAP_X, GAP_Y = 36, 70
MARGIN = 16


class Translate(Protocol):
    def __call__(self, message: str, **values: Any) -> str: ...


def _untranslated(message: str, **values: Any) -> str:
    return message % values if values else message


# Exits are labelled with the flow file's own keys (next, failure, no_input, key 1...) and nodes
# with their types, as the YAML beside the drawing says them; these are the drawing's own words.
LINE = N_("line %(line)s")
OTHER_FLOW = N_("other flow")
TITLE = N_("%(flow)s: %(count)s nodes, start %(start)s")


@dataclass(frozen=True, slots=True)
class Exit:
    label: str
    to: str  # a node of this flow, or "flow:node" ("flow:" its start) in another flow


def _retry(retry: m.Retry) -> list[tuple[str, m.Target]]:
    found = [("no_input", retry.no_input)]
    if retry.invalid is not None:
        found.append(("invalid", retry.invalid))
    return found


def _labelled(node: m.Node) -> list[tuple[str, m.Target]]:
    """What leads from ``node`` to each target, in the words of the flow file's keys."""
    match node:
        case m.MenuNode(choices=choices, retry=retry):
            return [(key, t) for key, t in choices.items()] + _retry(retry)
        case m.LanguageNode(next=nxt, retry=retry) | m.CollectNode(next=nxt, retry=retry):
            return [("next", nxt), *_retry(retry)]
        case m.HoursNode(open=is_open, closed=closed):
            return [("open", is_open), ("closed", closed)]
        case m.BranchNode(cases=cases, otherwise=otherwise):
            return [(_condition(c.when), c.goto) for c in cases] + [("otherwise", otherwise)]
        case m.HttpNode(next=nxt, failure=failure):
            return [("next", nxt), ("failure", failure)]
        case m.GotoNode(target=target):
            return [("goto", target)]
        case m.AgentsNode(available=available, unavailable=unavailable):
            return [("available", available), ("unavailable", unavailable)]
        case _:
            return [("next" if len(node.targets()) == 1 else "", t) for t in node.targets()]


def _condition(c: m.Condition) -> str:
    value = ", ".join(c.value) if isinstance(c.value, tuple) else str(c.value)
    text = f"{c.var} {c.op.replace('_', ' ')} {value}" if c.op != "exists" else f"{c.var} exists"
    return text if len(text) <= 28 else text[:27] + "…"


def exits(flow: m.FlowDef, node: m.Node) -> list[Exit]:
    found = []
    for label, target in _labelled(node):
        if target.flow in (None, flow.name):
            to = target.node
        else:
            to = f"{target.flow}:{target.node}"  # "flow:" for its start; never a name of this flow
        found.append(Exit(label, to))
    return found


def _layers(flow: m.FlowDef) -> list[list[str]]:
    start = flow.start.node if flow.start.node in flow.nodes else next(iter(flow.nodes), "")
    seen: dict[str, int] = {}
    layers: list[list[str]] = []
    frontier = [start] if start else []
    while frontier:
        layer = []
        for name in frontier:
            if name not in seen:
                seen[name] = len(layers)
                layer.append(name)
        if not layer:
            break
        layers.append(layer)
        following: list[str] = []
        for name in layer:
            node = flow.nodes.get(name)
            if node is None:  # another flow's node: drawn, not followed
                continue
            following += [e.to for e in exits(flow, node) if e.to not in seen and e.to not in following]
        frontier = following
    rest = [n for n in flow.nodes if n not in seen]
    if rest:
        layers.append(rest)
    return layers


def _kind(node: m.Node | None, tr: Translate) -> str:
    if node is None:
        return tr(OTHER_FLOW)
    return type(node).__name__.removesuffix("Node").lower()


def _text(x: float, y: float, text: str, cls: str, anchor: str = "middle") -> str:
    return f'<text x="{x:.0f}" y="{y:.0f}" class="{cls}" text-anchor="{anchor}">{escape(text)}</text>'


Place = dict[str, tuple[float, float, int]]  # name -> (x, y) of the box's top left, its layer


def _place(layers: list[list[str]]) -> tuple[Place, float, float]:
    """Where each box goes (centred layer by layer), and the drawing's width and height."""
    widest = max((len(layer) for layer in layers), default=1)
    width = MARGIN * 2 + widest * BOX_W + (widest - 1) * GAP_X + 60  # room for loops on the right
    height = MARGIN * 2 + len(layers) * BOX_H + max(0, len(layers) - 1) * GAP_Y
    where: Place = {}
    for row, layer in enumerate(layers):
        used = len(layer) * BOX_W + (len(layer) - 1) * GAP_X
        left = MARGIN + (widest * BOX_W + (widest - 1) * GAP_X - used) / 2
        for col, name in enumerate(layer):
            where[name] = (left + col * (BOX_W + GAP_X), MARGIN + row * (BOX_H + GAP_Y), row)
    return where, width, height


def _arrow(
    source: tuple[float, float, int], target: tuple[float, float, int], i: int, count: int, right: float
) -> tuple[str, float, float]:
    """The path of the ``i``-th of ``count`` arrows leaving a box, and where its label goes."""
    (x, y, row), (tx, ty, trow) = source, target
    if trow > row:  # downwards: from the box's bottom (spread by exit) to the target's top
        sx = x + BOX_W * (i + 1) / (count + 1)
        sy, ex, ey = y + BOX_H, tx + BOX_W / 2, ty
        mid = (sy + ey) / 2
        return (
            f"M{sx:.0f},{sy:.0f} C{sx:.0f},{mid:.0f} {ex:.0f},{mid:.0f} {ex:.0f},{ey - 2:.0f}",
            (sx + ex) / 2,
            mid,
        )
    if trow == row:  # sideways in a layer: straight, from the facing sides
        to_right = tx > x
        sx, sy = (x + BOX_W, y + BOX_H / 2) if to_right else (x, y + BOX_H / 2)
        ex = tx if to_right else tx + BOX_W
        return f"M{sx:.0f},{sy:.0f} L{ex + (-2 if to_right else 2):.0f},{sy:.0f}", (sx + ex) / 2, sy - 8
    # back (a loop, a retry): around the right
    sx, sy = x + BOX_W, y + BOX_H / 2 + 6 * (i - count / 2)
    ex, ey = tx + BOX_W, ty + BOX_H / 2
    return (
        f"M{sx:.0f},{sy:.0f} C{right:.0f},{sy:.0f} {right:.0f},{ey:.0f} {ex + 2:.0f},{ey:.0f}",
        right - 30,
        (sy + ey) / 2,
    )


def _box(flow: m.FlowDef, name: str, x: float, y: float, tr: Translate) -> str:
    drawn = flow.nodes.get(name)
    cls = "node start" if name == flow.start.node else "node" if drawn is not None else "node external"
    line = " · " + tr(LINE, line=drawn.pos.line) if drawn is not None else ""
    return (
        f'<g class="{cls}" data-node="{escape(name)}">'
        f'<rect x="{x:.0f}" y="{y:.0f}" width="{BOX_W}" height="{BOX_H}" rx="6"/>'
        + _text(x + BOX_W / 2, y + 19, name if len(name) <= 22 else name[:21] + "…", "name")
        + _text(x + BOX_W / 2, y + 36, _kind(drawn, tr) + line, "kind")
        + "</g>"
    )


def flow_svg(flow: m.FlowDef, tr: Translate = _untranslated) -> str:
    """The flow as an ``<svg>`` element (a string), scaled by its ``viewBox``."""
    where, width, height = _place(_layers(flow))
    edges: list[str] = []
    labels: list[str] = []
    for name, node in flow.nodes.items():
        if name not in where:
            continue
        # One arrow per target: exits that lead to the same node share it (their keys joined).
        merged: dict[str, list[str]] = {}
        for e in exits(flow, node):
            merged.setdefault(e.to, []).append(e.label)
        outs = [Exit(", ".join(k for k in keys if k), to) for to, keys in merged.items() if to in where]
        for i, e in enumerate(outs):
            path, lx, ly = _arrow(where[name], where[e.to], i, len(outs), width - 12)
            edges.append(f'<path class="edge" d="{path}" marker-end="url(#arrow)"/>')
            if e.label:
                labels.append(_text(lx, ly + 4, e.label, "exit"))
    boxes = [_box(flow, name, x, y, tr) for name, (x, y, _) in where.items()]
    title = tr(TITLE, flow=flow.name, count=len(flow.nodes), start=flow.start.node)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="flow-graph" viewBox="0 0 {width:.0f} {height:.0f}"'
        f' width="{width:.0f}" height="{height:.0f}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7"'
        ' orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>'
        + "".join(_join(edges, boxes, labels))
        + "</svg>"
    )


def _join(*parts: Iterable[str]) -> Iterable[str]:
    for part in parts:
        yield from part
