"""MAMMAL from Python: prompts (or a fine-tuned bundle's own tasks) to generated text, class
probabilities or values — the objects ``tessera mammal run --json`` prints."""

from __future__ import annotations

import json
import os
from typing import Any

from ._native import Mammal as _NativeMammal


class Mammal:
    """A MAMMAL bundle (folder or ``.tar``) loaded with its tokenizer."""

    def __init__(
        self,
        path: str | os.PathLike,
        device: str = "cpu",
        precision: str = "f32",
        tokenizer: str | os.PathLike | None = None,
    ):
        self._model = _NativeMammal(
            os.fspath(path), device, precision, None if tokenizer is None else os.fspath(tokenizer)
        )

    @property
    def tasks(self) -> list[dict[str, Any]]:
        """The tasks the bundle was fine-tuned for: ``name``, ``title``, ``prompt``, ``inputs``,
        ``readout``."""
        return json.loads(self._model.tasks_json())

    def prompt(self, task: str, inputs: dict[str, str] | str) -> str:
        """The prompt of the bundle's ``task``, its holes filled from ``inputs`` (a dict, or
        the value of a task's only hole)."""
        return self._model.task_prompt(task, self._inputs(task, inputs))

    def run(
        self,
        prompt: str | list[str] | None = None,
        *,
        task: str | None = None,
        inputs: dict[str, str] | str | None = None,
        readout: str = "generate",
        classes: list[str] | None = None,
        mean: float = 0.0,
        std: float = 1.0,
        max_new_tokens: int = 5,
        beams: int = 1,
    ) -> dict[str, Any] | list[dict[str, Any]]:
        """Answers ``prompt`` (one, or a list: a list back), or the bundle's ``task`` on
        ``inputs``. Without a task, ``readout`` says what to read: ``generate`` (text,
        ``max_new_tokens``, ``beams``), ``classify`` (``classes`` tokens, default ``<0>``,
        ``<1>``) or ``regress`` (the scalar head, ``* std + mean``). Each answer is
        ``{"prompt", "tokens", "answer": {"kind": "text" | "classes" | "value", …},
        "classes"}``."""
        if task is not None and prompt is None:
            if inputs is None:
                raise ValueError(f"task {task!r}: give its inputs")
            prompt = self.prompt(task, inputs)
        if prompt is None:
            raise ValueError("give a prompt, or a task and its inputs")
        one = isinstance(prompt, str)
        prompts = [prompt] if one else [str(p) for p in prompt]
        answers = [
            json.loads(line)
            for line in self._model.run(
                prompts, task, readout, classes, mean, std, max_new_tokens, beams
            )
        ]
        return answers[0] if one else answers

    def _inputs(self, task: str, inputs: dict[str, str] | str) -> list[tuple[str, str]]:
        if isinstance(inputs, dict):
            return [(str(k), str(v)) for k, v in inputs.items()]
        holes = next((t["inputs"] for t in self.tasks if t["name"] == task), [])
        # One value: the task's first hole (an unknown task is named by the native call).
        return [(holes[0] if holes else "", str(inputs))]


def mammal(
    model: str | os.PathLike, device: str = "cpu", precision: str = "f32", tokenizer=None
) -> Mammal:
    """Loads a MAMMAL bundle: ``tessera.mammal("model.tar").run("<prompt>")``."""
    return Mammal(model, device, precision, tokenizer)
