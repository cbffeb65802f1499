"""Reading untrusted YAML within limits: every failure a located `ScenarioError`.

PyYAML's safe loader never runs code, but it can still be made to spend minutes and
gigabytes (aliases of aliases: "billion laughs"), recurse until Python gives up (deep
nesting, an alias inside its own anchor), or raise plain `ValueError`s (`!!float abc`, an
integer of 5,000 digits). The limits below sit far above any real scenario (the largest
shipped one is a few KiB with a depth under 12) and far below what hurts.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError

from sparring.errors import Problem, ScenarioError

MAX_BYTES = 8 * 1024 * 1024  # 8 MiB: a thousand times the largest real scenario
MAX_DEPTH = 64  # a reply's deepest part (match.body, tool arguments) sits ~10 levels down
MAX_NODES = 200_000  # values after expanding aliases; each costs Python objects and checks
MAX_INT_DIGITS = 30  # beyond 64 bits no count, seed or size means anything


class _LimitedLoader(yaml.SafeLoader):
    """A SafeLoader that counts depth and expanded size while composing, and turns every
    constructor failure into a `ConstructorError` at the offending node."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0
        # id(node) -> (values it stands for, levels it spans), aliases expanded
        self._sizes: dict[int, tuple[int, int]] = {}

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        mark: Any = event.start_mark
        if isinstance(event, yaml.AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None and id(target) not in self._sizes:
                raise ComposerError(None, None, f"alias *{event.anchor} is inside its own anchor", mark)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep", mark)
        node = super().compose_node(parent, index)
        assert node is not None  # only an alias event yields no new node
        self._depth -= 1
        if isinstance(node, yaml.SequenceNode):
            children: list[yaml.Node] = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            children = []
        measures = [self._sizes.get(id(child), (1, 1)) for child in children]
        size = 1 + sum(m[0] for m in measures)
        height = 1 + max((m[1] for m in measures), default=0)
        if height > MAX_DEPTH:  # an alias can bring its own depth along
            raise ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep", node.start_mark)
        if size > MAX_NODES:
            raise ComposerError(
                None, None, f"expands to more than {MAX_NODES:,} values (aliases of aliases?)", node.start_mark
            )
        self._sizes[id(node)] = (size, height)
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if node.tag == "tag:yaml.org,2002:int" and len(str(node.value)) > MAX_INT_DIGITS:
            raise ConstructorError(None, None, f"integer longer than {MAX_INT_DIGITS} digits", node.start_mark)
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except Exception as exc:  # PyYAML's constructors fail on bad scalars with any error at all
            raise ConstructorError(
                None, None, f"bad {node.tag.rsplit(':', 1)[-1]} value: {exc}", node.start_mark
            ) from None


def compose(text: str, source: str) -> tuple[yaml.Node | None, Any]:
    """The document's node tree and its plain value, or a located `ScenarioError`."""
    if len(text) > MAX_BYTES:
        raise ScenarioError([Problem(f"the file is larger than {MAX_BYTES // 1024 // 1024} MiB", source=source)])
    loader: _LimitedLoader | None = None
    try:
        loader = _LimitedLoader(text)
        node = loader.get_single_node()
        value = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        if mark is not None and exc.context_mark is not None and mark.line >= text.count("\n"):
            mark = exc.context_mark  # found at the end of the file: where the bracket opened says more
        line = mark.line + 1 if mark else None
        raise ScenarioError([Problem(f"invalid YAML: {exc.problem or exc}", source=source, line=line)]) from None
    except yaml.reader.ReaderError as exc:  # a control character: name it and its line
        line = text[: exc.position].count("\n") + 1
        message = f"invalid YAML: character {exc.character:#06x} is not allowed"
        raise ScenarioError([Problem(message, source=source, line=line)]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(f"invalid YAML: {exc}", source=source)]) from None
    except RecursionError:  # a safety net: MAX_DEPTH should stop this first
        raise ScenarioError([Problem(f"nested too deep (limit {MAX_DEPTH})", source=source)]) from None
    finally:
        if loader is not None:
            loader.dispose()
    return node, value


def decode(data: bytes, source: str) -> str:
    """File bytes as text, or a located error for a file too large or not UTF-8."""
    if len(data) > MAX_BYTES:
        raise ScenarioError([Problem(f"the file is larger than {MAX_BYTES // 1024 // 1024} MiB", source=source)])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        message = f"not UTF-8 text: byte {data[exc.start]:#04x} at offset {exc.start}"
        raise ScenarioError([Problem(message, source=source, line=line)]) from None
