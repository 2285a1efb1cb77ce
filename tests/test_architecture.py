"""The import graph of ``mediaapp`` has no cycle between modules (ARCHITECTURE.md).

The layer contracts of ``lint-imports`` (pyproject.toml) cannot see a cycle
between two modules of the same layer, nor between a package and its
submodules; this test does, over grimp's graph of every import, function-local
ones included.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import grimp
import pytest


def strongly_connected(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components of ``graph`` with more than one node or a self-loop.

    ``graph`` maps a node to the nodes it points at. Tarjan's algorithm
    (Tarjan 1972), written iteratively so a deep graph needs no recursion.
    Each component is sorted; the list is sorted by its first node.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph.get(start, ())))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(graph.get(nxt, ()))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in graph.get(node, ()):
                        found.append(sorted(component))
    return sorted(found)


@pytest.mark.parametrize(("graph", "expected"), [
    ({"a": ["b"], "b": ["c"], "c": []}, []),
    ({"a": ["b"], "b": ["a"], "c": ["a"]}, [["a", "b"]]),
    ({"a": ["a"]}, [["a"]]),
    ({"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": ["e"], "e": ["d"]}, [["a", "b", "c"], ["d", "e"]]),
])
def test_the_cycle_finder_finds_cycles(graph, expected):
    assert strongly_connected(graph) == expected


def test_no_import_cycle_between_modules_of_mediaapp():
    graph = grimp.build_graph("mediaapp", include_external_packages=False)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    cycles = strongly_connected(edges)
    assert not cycles, "import cycles (break them as ARCHITECTURE.md says):\n" + "\n".join(
        " <-> ".join(c) for c in cycles)
    assert len(edges) > 80  # the whole package was read
