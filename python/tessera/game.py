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
) -> list[dict[str, Any]]:
    """Scores each policy on ``boards`` (a board file, or board objects / lines of one size and
    p) under ``definition`` (``network``, ``flow`` or ``noodle``): one dict per policy with
    ``mean_steps``, ``std_steps``, ``mean_auc``, ``per_board_steps`` (and ``per_board_moves``
    with ``moves``), or ``reason`` where it has none. Policies: the baselines, ``optimal``,
    ``agent`` (the shipped agent of the definition) or ``agent=PATH``."""
    if isinstance(boards, (str, os.PathLike)):
        file = os.fspath(boards)
        with open(file, encoding="utf-8") as f:
            text = f.read()
    else:
        file = "boards"
        text = "\n".join(b if isinstance(b, str) else json.dumps(b) for b in boards)
    if isinstance(policies, str):
        policies = policies.split(",")
    return json.loads(
        _native.game_evaluate(file, text, definition, [str(p) for p in policies], seed, moves)
    )
