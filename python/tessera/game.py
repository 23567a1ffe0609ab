"""The percolation attack game from Python: boards drawn as ``tessera game boards`` draws them,
and players scored as ``tessera game eval --json`` scores them."""

from __future__ import annotations

import json
import os
from typing import Any, Iterable

from . import _native

BASELINES = ("random", "degree", "greedy", "ci", "corehd", "optimal")


def boards(n: int, p: float, count: int, seed: int = 0) -> list[dict[str, Any]]:
    """``count`` site-diluted ``n × n`` lattices at occupation ``p`` (board-file objects
    ``{"n", "p", "sites"}``), the same as ``tessera game boards`` for ``seed``."""
    return [json.loads(line) for line in _native.game_boards(n, p, count, seed)]


def evaluate(
    boards: str | os.PathLike | Iterable[dict[str, Any] | str],
    definition: str,
    policies: Iterable[str] = BASELINES,
    *,
    seed: int = 0,
    moves: bool = False,
    source: Iterable[str] = (),
    sink: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """Scores each policy on ``boards`` under ``definition`` (``network``, ``flow`` or
    ``noodle``): one dict per policy with ``mean_steps``, ``std_steps``, ``mean_auc``,
    ``per_board_steps`` (and ``per_board_moves`` with ``moves``), or ``reason`` where it has
    none. Policies: the baselines, ``optimal``, ``agent`` (the shipped agent of the definition:
    the lattice agent on boards, the graph agent on a graph), ``graph-agent`` (the shipped graph
    agent, on boards too) or ``agent=PATH``.

    ``boards``: a board file, board objects / lines of one size and p, or a graph — a graph file
    (``www/graphs/``, ``tessera game graph import``) or an edge list (``.edges`` / ``.txt``) —
    on which ``flow`` connects ``source`` and ``sink`` (ids or labels; a graph file's own sides
    by default)."""
    graph = False
    if isinstance(boards, (str, os.PathLike)):
        file = os.fspath(boards)
        with open(file, encoding="utf-8") as f:
            text = f.read()
        graph = not _is_board_file(text)
    else:
        file = "boards"
        text = "\n".join(b if isinstance(b, str) else json.dumps(b) for b in boards)
    if isinstance(policies, str):
        policies = policies.split(",")
    return json.loads(
        _native.game_evaluate(
            file,
            text,
            definition,
            [str(p) for p in policies],
            seed,
            moves,
            graph,
            [str(s) for s in source],
            [str(s) for s in sink],
        )
    )


def _is_board_file(text: str) -> bool:
    """Whether ``text`` is a board file (JSON Lines of ``{"n", "p", "sites"}``), not a graph."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    try:
        line = json.loads(first)
    except ValueError:
        return False
    return isinstance(line, dict) and "sites" in line
