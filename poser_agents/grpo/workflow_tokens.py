"""The workflow vocabulary: expert tokens, special tokens, and the grammar of a workflow.

How a workflow maps onto the env (the design decision, see docs/grpo.md): the env works on
one command at a time, retries a failed command and drops it after ``max_attempts`` tries. A
workflow is therefore decided wholly at episode start, from the prompt and its extracted
commands, as a *retry list* per command: for command ``i`` the experts to try in order,
exactly ``attempts`` of them (the env's ``max_attempts``). The env's accept/retry decides which
token is consumed next: a command that passes on its first try consumes one token, the rest
of its list is never executed (and renders no image).

Token sequence: ``<bos> e11 .. e1A <sep> e21 .. e2A <sep> ... eNA <eos>``. The special tokens
are fixed by the number of commands, so the policy only ever chooses among expert tokens:
invalid sequences are impossible by construction, and :meth:`WorkflowVocab.decode` rejects a
malformed one with :class:`WorkflowError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

SPECIAL_TOKENS: tuple[str, ...] = ("<pad>", "<bos>", "<sep>", "<eos>")
PAD, BOS, SEP, EOS = range(4)


class WorkflowError(ValueError):
    """A workflow or token sequence that breaks the grammar (names the rule and the fix)."""


@dataclass(frozen=True)
class Workflow:
    """Per command, the experts to try in order (each list exactly ``attempts`` long)."""

    steps: tuple[tuple[str, ...], ...]

    def key(self) -> str:
        """A canonical string (``a,b,c|d,e,f``), used for distinctness and novelty."""
        return "|".join(",".join(s) for s in self.steps)

    @classmethod
    def from_key(cls, key: str) -> Workflow:
        if not key:
            raise WorkflowError("an empty workflow key: a workflow has at least one command")
        return cls(tuple(tuple(s.split(",")) for s in key.split("|")))

    def to_list(self) -> list[list[str]]:
        return [list(s) for s in self.steps]


class WorkflowVocab:
    """Token ids: the four special tokens, then one token per expert in registry order."""

    def __init__(self, expert_names: Sequence[str], attempts: int = 3):
        names = [str(n) for n in expert_names]
        if not names:
            raise WorkflowError("a workflow vocabulary needs at least one expert")
        if len(set(names)) != len(names):
            raise WorkflowError(f"expert names must be unique, got {names}")
        clash = set(names) & set(SPECIAL_TOKENS)
        if clash:
            raise WorkflowError(f"expert names {sorted(clash)} clash with the special tokens {SPECIAL_TOKENS}")
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise WorkflowError(f"attempts must be a positive int (the env's max_attempts), got {attempts!r}")
        self.experts = names
        self.attempts = attempts
        self.tokens = list(SPECIAL_TOKENS) + names
        self._id = {t: i for i, t in enumerate(self.tokens)}

    @property
    def n_experts(self) -> int:
        return len(self.experts)

    def __len__(self) -> int:
        return len(self.tokens)

    def expert_id(self, name: str) -> int:
        """Index of an expert among the experts (0-based, the policy's output index)."""
        try:
            return self._id[name] - len(SPECIAL_TOKENS)
        except KeyError:
            raise WorkflowError(f"unknown expert {name!r}; this vocabulary has: {', '.join(self.experts)}") from None

    def validate(self, workflow: Workflow, n_commands: int | None = None) -> Workflow:
        """Check the grammar: known experts, ``attempts`` per command, the right command count."""
        if not workflow.steps:
            raise WorkflowError("a workflow needs at least one command's retry list")
        if n_commands is not None and len(workflow.steps) != n_commands:
            raise WorkflowError(
                f"the workflow has {len(workflow.steps)} retry lists but the prompt has {n_commands} commands: one list per command"
            )
        for i, step in enumerate(workflow.steps):
            if len(step) != self.attempts:
                raise WorkflowError(
                    f"command {i}'s retry list has {len(step)} experts; each must list exactly {self.attempts} (the env's max_attempts)"
                )
            for name in step:
                self.expert_id(name)
        return workflow

    def from_expert_ids(self, ids: Sequence[int], n_commands: int) -> Workflow:
        """A workflow from the flat list of expert indices (``n_commands * attempts`` of them)."""
        ids = [int(i) for i in ids]
        if len(ids) != n_commands * self.attempts:
            raise WorkflowError(
                f"expected {n_commands * self.attempts} expert choices for {n_commands} commands, got {len(ids)}"
            )
        bad = [i for i in ids if not 0 <= i < self.n_experts]
        if bad:
            raise WorkflowError(f"expert indices {bad[:3]} out of range 0..{self.n_experts - 1}")
        a = self.attempts
        return Workflow(tuple(tuple(self.experts[j] for j in ids[k * a : (k + 1) * a]) for k in range(n_commands)))

    def expert_ids(self, workflow: Workflow) -> list[int]:
        """The flat expert indices of a (validated) workflow: the policy's targets."""
        self.validate(workflow)
        return [self.expert_id(n) for s in workflow.steps for n in s]

    def encode(self, workflow: Workflow) -> list[int]:
        """Token ids with the special tokens: ``<bos> ... <sep> ... <eos>``."""
        self.validate(workflow)
        out = [BOS]
        for k, step in enumerate(workflow.steps):
            if k:
                out.append(SEP)
            out.extend(self._id[n] for n in step)
        out.append(EOS)
        return out

    def decode(self, ids: Sequence[int]) -> Workflow:
        """Parse token ids back; any grammar break raises :class:`WorkflowError` naming it."""
        ids = [int(i) for i in ids]
        while ids and ids[-1] == PAD:
            ids.pop()
        if len(ids) < 2 or ids[0] != BOS or ids[-1] != EOS:
            raise WorkflowError("a workflow's tokens must start with <bos> and end with <eos>")
        body = ids[1:-1]
        steps, current = [], []
        for pos, t in enumerate(body, start=1):
            if not 0 <= t < len(self.tokens):
                raise WorkflowError(f"token id {t} at position {pos} is out of range 0..{len(self.tokens) - 1}")
            if t == SEP:
                steps.append(tuple(current))
                current = []
            elif t in (PAD, BOS, EOS):
                raise WorkflowError(
                    f"special token {self.tokens[t]} at position {pos}: only <sep> may appear inside a workflow"
                )
            else:
                current.append(self.tokens[t])
        steps.append(tuple(current))
        return self.validate(Workflow(tuple(steps)))

    def to_dict(self) -> dict[str, Any]:
        return {"experts": list(self.experts), "attempts": self.attempts, "special_tokens": list(SPECIAL_TOKENS)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WorkflowVocab:
        if list(d.get("special_tokens", SPECIAL_TOKENS)) != list(SPECIAL_TOKENS):
            raise WorkflowError(
                f"special tokens {d.get('special_tokens')} differ from this code's {list(SPECIAL_TOKENS)}"
            )
        return cls(d["experts"], int(d["attempts"]))
