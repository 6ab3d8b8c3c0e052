"""The 32 DX7 algorithms: which operator modulates which, the carriers, the feedback loop.

Operators are numbered as musicians count them, OP1..OP6, and algorithms 1..32.
Every modulation edge goes from a higher-numbered operator to a lower-numbered
one, so rendering OP6 first and OP1 last sees every modulator before its
target. Carriers are the operators that modulate nothing; the engine sums them.

The feedback edge ``(source, target)`` is a self-loop on one operator in 30 of
the algorithms; in algorithms 4 and 6 it closes a loop over a stack
(OP4 -> OP6 over OP6 -> OP5 -> OP4, and OP5 -> OP6 over OP6 -> OP5). No operator
inside a feedback loop has a modulator from outside it, which lets the engine
render the loop as one recurrence (see :mod:`synths.dx7.feedback`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

# "src>dst" modulation edges and the feedback edge of each algorithm, in DX7 chart order
_CHARTS: tuple[tuple[str, tuple[int, int]], ...] = (
    ("6>5 5>4 4>3 2>1", (6, 6)),  # 1
    ("6>5 5>4 4>3 2>1", (2, 2)),  # 2
    ("6>5 5>4 3>2 2>1", (6, 6)),  # 3
    ("6>5 5>4 3>2 2>1", (4, 6)),  # 4
    ("6>5 4>3 2>1", (6, 6)),  # 5
    ("6>5 4>3 2>1", (5, 6)),  # 6
    ("6>5 5>3 4>3 2>1", (6, 6)),  # 7
    ("6>5 5>3 4>3 2>1", (4, 4)),  # 8
    ("6>5 5>3 4>3 2>1", (2, 2)),  # 9
    ("6>4 5>4 3>2 2>1", (3, 3)),  # 10
    ("6>4 5>4 3>2 2>1", (6, 6)),  # 11
    ("6>3 5>3 4>3 2>1", (2, 2)),  # 12
    ("6>3 5>3 4>3 2>1", (6, 6)),  # 13
    ("6>4 5>4 4>3 2>1", (6, 6)),  # 14
    ("6>4 5>4 4>3 2>1", (2, 2)),  # 15
    ("6>5 5>1 4>3 3>1 2>1", (6, 6)),  # 16
    ("6>5 5>1 4>3 3>1 2>1", (2, 2)),  # 17
    ("6>5 5>4 4>1 3>1 2>1", (3, 3)),  # 18
    ("6>4 6>5 3>2 2>1", (6, 6)),  # 19
    ("6>4 5>4 3>1 3>2", (3, 3)),  # 20
    ("6>4 6>5 3>1 3>2", (3, 3)),  # 21
    ("6>3 6>4 6>5 2>1", (6, 6)),  # 22
    ("6>4 6>5 3>2", (6, 6)),  # 23
    ("6>3 6>4 6>5", (6, 6)),  # 24
    ("6>4 6>5", (6, 6)),  # 25
    ("6>4 5>4 3>2", (6, 6)),  # 26
    ("6>4 5>4 3>2", (3, 3)),  # 27
    ("5>4 4>3 2>1", (5, 5)),  # 28
    ("6>5 4>3", (6, 6)),  # 29
    ("5>4 4>3", (5, 5)),  # 30
    ("6>5", (6, 6)),  # 31
    ("", (6, 6)),  # 32
)

NUM_ALGORITHMS = len(_CHARTS)
_REDUCED_FEEDBACK = (4, 6, 32)


@dataclass(frozen=True)
class Algorithm:
    """One routing chart; operator numbers 1..6.

    Attributes:
        number: 1..32.
        edges: ``(modulator, target)`` pairs.
        carriers: operators summed into the output, ascending.
        feedback: ``(source, target)``: the source's output (averaged over its
            last two samples) is added to the target's phase.
        loop: the operators of the feedback loop from the loop's top (the
            feedback target) down to its source, e.g. ``(6,)`` or ``(6, 5, 4)``.
        feedback_gain: factor on the feedback scale; 1/4 (two feedback steps
            less) in algorithms 4, 6 and 32, as Dexed renders them (measured
            against dexed-py: its default, non-normalised feedback).
    """

    number: int
    edges: tuple[tuple[int, int], ...]
    carriers: tuple[int, ...]
    feedback: tuple[int, int]
    loop: tuple[int, ...]
    feedback_gain: float = 1.0

    def modulators_of(self, op: int) -> tuple[int, ...]:
        """Operators that modulate ``op`` (not counting feedback)."""
        return tuple(src for src, dst in self.edges if dst == op)


@cache
def algorithm(number: int) -> Algorithm:
    """The DX7 algorithm ``number`` (1..32, as printed on the DX7's panel)."""
    if not 1 <= number <= NUM_ALGORITHMS:
        raise ValueError(f"DX7 algorithm must be 1..{NUM_ALGORITHMS}, got {number}")
    chart, fb = _CHARTS[number - 1]
    edges = tuple((int(e[0]), int(e[2])) for e in chart.split())
    sources = {src for src, _ in edges}
    carriers = tuple(op for op in range(1, 7) if op not in sources)
    top, bottom = fb[1], fb[0]
    loop = [top]
    while loop[-1] != bottom:  # walk down the stack from the feedback target to its source
        loop.append(next(dst for src, dst in edges if src == loop[-1]))
    gain = 0.25 if number in _REDUCED_FEEDBACK else 1.0
    return Algorithm(number, edges, carriers, fb, tuple(loop), gain)
