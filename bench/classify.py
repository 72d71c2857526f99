"""Messages per second for ``smsconsent.classify`` on one core (figures in BENCHMARKS.md).

Three figures:

(a) single keywords: the bodies that make up most inbound traffic ("STOP", "Stop", "YES",
    "HELP", ...), answered by the exact-body table;
(b) a realistic mix: keywords, keywords with noise, conversation, plain-language revocation and
    other languages, drawn with repeats from a pool (inbound traffic repeats itself), so the
    bounded cache serves most of them once warm;
(c) the mix read cold: every body read afresh, without the cache (the worst case: every
    message is new).

Run: ``.venv/bin/python bench/classify.py`` (``--profile`` adds a cProfile of the cold path).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import time
from collections.abc import Callable, Sequence

from smsconsent import DEFAULT_POLICY, classify
from smsconsent.domain.classifier import compiled

KEYWORDS = ["STOP", "stop", "Stop", "STOP ", "Stop.", "START", "HELP", "YES", "Yes", "UNSUBSCRIBE",
            "Cancel", "END", "QUIT", "stop!", "INFO", "BAJA", "Parar", "ARRET"]  # fmt: skip
NOISY = ["stop please", "Stop. Thank you", "STOP!!! thanks", "S T O P", "s.t.o.p", "\u0421TOP",
         "STOP\n\nSent from my iPhone", "\"STOP\"", "STOP \U0001f6d1", "stop stop STOP", "opt-out",
         "\uff33\uff34\uff2f\uff30", "STOP 12345", "ok stop", "Stop 2 quit"]  # fmt: skip
CONVERSATION = ["Can I come in at 3 instead?", "Thanks, see you tomorrow!", "ok", "Who is this?",
                "I'll stop by later", "when can I start?", "please cancel my order", "help me",
                "Yes, extra towels please", "The END", "What time does the office open on Monday?",
                "Running 10 minutes late, sorry", "Is parking available near the building?",
                "Count me in! We have got to STOP this terrible bill from passing!!"]  # fmt: skip
PHRASES = ["please stop texting me", "remove me from your list", "I don't want these messages",
           "take me off this list", "Don't stop texting me!", "leave me alone",
           "stop sending me messages", "I don't want to opt out"]  # fmt: skip
OTHER_LANGUAGES = ["no me manden más mensajes", "não quero mais receber nada",
                   "me tira dessa lista", "quiero dar de baja la suscripcion",
                   "tem como parar a dor?",
                   "arrêtez de m'envoyer des messages", "posso sair antes das 15h?"]  # fmt: skip


def pin_to_one_core() -> None:
    """Run on one CPU so the figure is per core (where the OS allows it)."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def mix(count: int, seed: int) -> list[str]:
    """A realistic inbound mix: weights by kind, and a long tail of one-off conversation."""
    rng = random.Random(seed)
    kinds = [(KEYWORDS, 45), (NOISY, 10), (CONVERSATION, 30), (PHRASES, 8), (OTHER_LANGUAGES, 7)]
    pools = [pool for pool, weight in kinds for _ in range(weight)]
    bodies = []
    for index in range(count):
        body = rng.choice(rng.choice(pools))
        if rng.random() < 0.05:  # one in twenty is unique (a name, a time, a typo)
            body = f"{body} #{seed}-{index}"
        bodies.append(body)
    return bodies


def rate(function: Callable[[str], object], runs: Sequence[Sequence[str]]) -> float:
    """The best of the runs, in messages per second."""
    best = float("inf")
    for bodies in runs:
        start = time.perf_counter()
        for body in bodies:
            function(body)
        best = min(best, (time.perf_counter() - start) / len(bodies))
    return 1 / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="messages per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs; the best is reported")
    parser.add_argument("--profile", action="store_true", help="cProfile the cold path")
    args = parser.parse_args()
    pin_to_one_core()

    single = [KEYWORDS[i % len(KEYWORDS)] for i in range(args.n)]
    # Each run of the mix is new (its one-off bodies were never seen), after a warm-up run.
    for body in mix(args.n, seed=0):
        classify(body)
    realistic = [mix(args.n, seed=run) for run in range(1, args.repeat + 1)]
    cold = [batch[: max(1, args.n // 20)] for batch in realistic]
    read = compiled(DEFAULT_POLICY).read

    print(f"(a) single keywords : {rate(classify, [single] * args.repeat):>12,.0f} msg/s")
    print(f"(b) realistic mix   : {rate(classify, realistic):>12,.0f} msg/s")
    print(f"(c) mix, cold       : {rate(read, cold):>12,.0f} msg/s (no cache)")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [read(body) for body in cold[0]])
        pstats.Stats(profiler).sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    main()
