"""Validation of a parsed flow set: every problem an admin can make that the parser cannot see.

Checks (each reported at the line and column it was written at): a target that names no node or
flow, a node that cannot be reached from its flow's start, a loop without exit (nodes from which no
queue, voicemail, callback or hang-up can be reached), a regular expression that does not compile,
a prompt missing for one of the flow's languages, a language choice the flow does not declare, and
a node or prompt its channels cannot carry (a voicemail on chat without ``chat:``, a recorded sound
with no text on chat, a knowledge-base answer or a ticket on voice, a goto into a flow of other
channels).
Problems come back sorted by position; an empty list means the flow set may be loaded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from callcenter.core.ivr import model as m

Key = tuple[str, str]  # (flow, node)


def validate(flows: m.FlowSet) -> list[m.Problem]:
    problems: list[m.Problem] = []
    for flow in flows.flows.values():
        problems += _targets(flows, flow)
        problems += _content(flow)
        problems += _channels(flows, flow)
    if not problems:  # the graph checks need every target to resolve
        problems += _reachability(flows)
        problems += _loops(flows)
    return sorted(set(problems), key=lambda p: (p.pos, p.message))


def resolve(flows: m.FlowSet, flow: m.FlowDef, target: m.Target) -> Key | None:
    if target.flow is None or target.flow == flow.name:
        return (flow.name, target.node) if target.node in flow.nodes else None
    other = flows.flows.get(target.flow)
    if other is None:
        return None
    node = target.node or other.start.node
    return (other.name, node) if node in other.nodes else None


def _all_targets(flow: m.FlowDef) -> Iterator[tuple[m.Node | None, m.Target]]:
    yield None, flow.start
    if flow.agent is not None:
        yield None, flow.agent
    for node in flow.nodes.values():
        for target in node.targets():
            yield node, target


def _targets(flows: m.FlowSet, flow: m.FlowDef) -> list[m.Problem]:
    problems = []
    for node, target in _all_targets(flow):
        if resolve(flows, flow, target) is not None:
            continue
        where = "the start" if node is None else f"node {node.name!r}"
        if target.flow is not None and target.flow not in flows.flows:
            problems.append(
                m.Problem(
                    target.pos, f"missing target: {where} goes to flow {target.flow!r}, which does not exist"
                )
            )
        else:
            in_flow = target.flow or flow.name
            problems.append(
                m.Problem(
                    target.pos,
                    f"missing target: {where} goes to {target.node!r}, "
                    f"which is not a node of flow {in_flow!r}",
                )
            )
    return problems


def _content(flow: m.FlowDef) -> list[m.Problem]:
    problems = []
    for node in flow.nodes.values():
        for prompt in node.prompts():
            for language in flow.languages:
                if prompt.for_language(language) is None:
                    problems.append(
                        m.Problem(
                            prompt.pos, f"prompt text missing for language {language!r} in node {node.name!r}"
                        )
                    )
        if isinstance(node, m.CollectNode) and node.pattern is not None:
            problems += _regex(node.pattern, node.pattern_pos)
        if isinstance(node, m.BranchNode):
            for case in node.cases:
                if case.when.op == "matches" and isinstance(case.when.value, str):
                    problems += _regex(case.when.value, case.when.pos)
        if isinstance(node, m.LanguageNode):
            for key, language in node.choices.items():
                if language not in flow.languages:
                    problems.append(
                        m.Problem(
                            node.pos,
                            f"choice {key!r} selects language {language!r}, "
                            f"which is not in the flow's languages {list(flow.languages)}",
                        )
                    )
    idle = flow.idle.prompt if flow.idle is not None else None
    for language in flow.languages if idle is not None else ():
        variant = idle.for_language(language) if idle is not None else None
        if variant is None or not variant.text:
            problems.append(
                m.Problem(
                    idle.pos if idle else flow.pos, f"idle prompt text missing for language {language!r}"
                )
            )
    return problems


def _channels(flows: m.FlowSet, flow: m.FlowDef) -> list[m.Problem]:
    problems = []
    voice, chat = "voice" in flow.channels, "chat" in flow.channels
    for node in flow.nodes.values():
        kind = type(node).__name__.removesuffix("Node").lower()
        if chat and isinstance(node, m.VOICE_ONLY) and node.chat is None:
            problems.append(
                m.Problem(
                    node.pos,
                    f"{kind} node {node.name!r} is voice only: give 'chat:' (where a chat goes "
                    "instead) or take chat out of the flow's channels",
                )
            )
        if voice and isinstance(node, m.CHAT_ONLY):
            problems.append(
                m.Problem(
                    node.pos, f"{kind} node {node.name!r} is chat only: the flow's channels include voice"
                )
            )
        if voice and isinstance(node, m.CollectNode) and node.text:
            problems.append(
                m.Problem(node.pos, f"collect node {node.name!r} takes text, which only chat has")
            )
        if chat:
            for prompt in node.prompts():
                for language in flow.languages:
                    variant = prompt.for_language(language)
                    if variant is not None and not variant.text:
                        problems.append(
                            m.Problem(
                                prompt.pos,
                                f"a recorded sound has no text to send on chat ({language!r}, node "
                                f"{node.name!r}): use say",
                            )
                        )
        other = flows.flows.get(node.target.flow or "") if isinstance(node, m.GotoNode) else None
        if isinstance(node, m.GotoNode) and other is not None:
            lacking = sorted(set(flow.channels) - set(other.channels))
            if lacking:
                problems.append(
                    m.Problem(
                        node.target.pos,
                        f"goto flow {other.name!r}, which does not run on {', '.join(lacking)} "
                        f"(its channels: {', '.join(other.channels)})",
                    )
                )
    if flow.agent is not None:
        target = flow.nodes.get(flow.agent.node) if flow.agent.flow is None else None
        if target is not None and not isinstance(target, (m.QueueNode, m.PlayNode, m.SetNode, m.AgentsNode)):
            problems.append(
                m.Problem(flow.agent.pos, "'agent' must lead to a queue (a queue, play, set or agents node)")
            )
    return problems


def _regex(pattern: str, pos: m.Pos) -> list[m.Problem]:
    try:
        re.compile(pattern)
    except re.error as err:
        return [m.Problem(pos, f"bad regex {pattern!r}: {err}")]
    return []


def _edges(flows: m.FlowSet) -> dict[Key, list[Key]]:
    edges: dict[Key, list[Key]] = {}
    for flow in flows.flows.values():
        for node in flow.nodes.values():
            found = (resolve(flows, flow, t) for t in node.targets())
            edges[(flow.name, node.name)] = [k for k in found if k is not None]
    return edges


def _reachable(edges: dict[Key, list[Key]], start: Key) -> set[Key]:
    seen = {start}
    todo = [start]
    while todo:
        for key in edges.get(todo.pop(), []):
            if key not in seen:
                seen.add(key)
                todo.append(key)
    return seen


def _reachability(flows: m.FlowSet) -> list[m.Problem]:
    edges = _edges(flows)
    problems = []
    for flow in flows.flows.values():
        if any(isinstance(n, m.UnparsedNode) for n in flow.nodes.values()):
            continue  # its links are unknown: every "unreachable" would be a guess
        seen: set[Key] = set()
        for begin in (flow.start, flow.agent):
            start = resolve(flows, flow, begin) if begin is not None else None
            seen |= _reachable(edges, start) if start else set()
        for node in flow.nodes.values():
            if (flow.name, node.name) not in seen:
                problems.append(
                    m.Problem(
                        node.pos,
                        f"unreachable node {node.name!r}: nothing leads to it "
                        f"from the start of flow {flow.name!r}",
                    )
                )
    return problems


def _loops(flows: m.FlowSet) -> list[m.Problem]:
    edges = _edges(flows)
    nodes = {(f.name, n.name): n for f in flows.flows.values() for n in f.nodes.values()}
    # Nodes from which an ending (queue, voicemail, callback, hang-up) can be reached: walk back.
    incoming: dict[Key, list[Key]] = {key: [] for key in nodes}
    for key, outs in edges.items():
        for out in outs:
            incoming[out].append(key)
    can_end = {key for key, node in nodes.items() if isinstance(node, m.TERMINALS)}
    todo = list(can_end)
    while todo:
        for key in incoming[todo.pop()]:
            if key not in can_end:
                can_end.add(key)
                todo.append(key)
    problems = []
    for key, node in nodes.items():
        if key not in can_end:
            problems.append(
                m.Problem(
                    node.pos,
                    f"loop without exit: from node {node.name!r} the caller can "
                    "never reach a queue, voicemail, callback or hang-up",
                )
            )
    return problems
