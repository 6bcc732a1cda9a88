"""Generated sums and products, seeded: a numeric task where every answer is checkable.

Three kinds, as many of each: one-digit sums (7 + 5), two-digit sums (34 + 18) and
one-digit products (6 * 7) — easy for a person, hard enough for a 135M–270M model that a
team's vote can beat one voice. A question a chat format uses as a demonstration is
never drawn, in either order of its operands (the benchmark must measure the format, not
a leak), nor is one drawn twice.

    python -m conclave.experiments.sums experiments/datasets/sums_products.jsonl
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from conclave.experiments.du2023 import write_jsonl

PER_KIND = 40
SEED = 2026
# (id prefix, operator, low, high): operands drawn uniformly from [low, high].
KINDS = (("sum1", "+", 1, 9), ("sum2", "+", 10, 49), ("prod1", "*", 2, 9))


def sums_items(
    per_kind: int = PER_KIND, seed: int = SEED, exclude: Sequence[str] = ()
) -> Iterator[dict[str, object]]:
    rng = random.Random(seed)
    excluded = {q.strip().lower() for q in exclude}
    taken: set[str] = set()
    for prefix, op, low, high in KINDS:
        drawn = 0
        while drawn < per_kind:
            a, b = rng.randint(low, high), rng.randint(low, high)
            prompt, swapped = f"What is {a} {op} {b}?", f"What is {b} {op} {a}?"
            if prompt.lower() in taken or {prompt.lower(), swapped.lower()} & excluded:
                continue
            taken.add(prompt.lower())
            drawn += 1
            yield {
                "id": f"{prefix}-{drawn:02d}",
                "prompt": prompt,
                "answer": a + b if op == "+" else a * b,
                "meta": {"kind": prefix},
            }


def main(argv: Sequence[str] | None = None) -> int:
    # The chat formats' demonstrations are excluded; imported here so the generator's
    # module stays importable without the agent's engine.
    from conclave.services.engine.chat_format import DEFAULT_DEMONSTRATIONS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="JSONL file to write")
    parser.add_argument("--per-kind", type=int, default=PER_KIND)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    demos = [d.user for d in DEFAULT_DEMONSTRATIONS]
    n = write_jsonl(args.out, sums_items(args.per_kind, args.seed, exclude=demos))
    sys.stderr.write(f"wrote {n} questions to {args.out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
