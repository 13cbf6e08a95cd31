"""`make bench-content`: the content service's ranking for 10,000 ambassadors x 5,000 items.

It builds a synthetic organisation (deterministic: the same seed gives the same data): ambassadors
with segments, Danish and English topics, languages, programs with objectives; approved items over
the default playbook's disciplines; engagement measured for a share of the items. Then, in one
process, it prints:

- the vectorised ranking (`advocacy_content.ranking.rank`: TF-IDF fit, every signal of every pair,
  the cadence and the cohort's diversity cap): wall time, and peak memory (the Python heap's peak
  during the ranking from `tracemalloc`, which numpy's and scipy's arrays report to, in a second
  run, and the process's peak resident size);
- a straightforward per-pair implementation of the same score (a Python loop over every
  (ambassador, item) pair: sets, dicts, a dot product of the two TF-IDF vectors as dicts) on a
  sample of ambassadors against all items, its time per pair, the time it would take for every
  pair (it is linear in pairs), and the ratio; it also checks that both give the same scores.

Goal (issue 13): at most 5 s and 1 GiB, at least 50x the per-pair loop. Not a test: it prints.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import random
import resource
import sys
import time
import tracemalloc
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

import numpy as np

from advocacy_content import ranking
from advocacy_content.ranking import Context, Discipline, Item, Person
from advocacy_shared.contracts.planner import DEFAULT_PLAYBOOK

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
DANISH = [
    "bæredygtighed",
    "bæredygtige",
    "løsninger",
    "kunder",
    "kunde",
    "rådgivning",
    "digitalisering",
    "sikkerhed",
    "ledelse",
    "kultur",
    "udvikling",
    "kollegaer",
    "arbejdsplads",
    "innovation",
    "energi",
    "grøn",
    "omstilling",
    "data",
    "analyse",
    "cloud",
    "platform",
    "automatisering",
    "produktion",
    "logistik",
    "salg",
    "marked",
    "vækst",
    "strategi",
    "talent",
    "rekruttering",
    "uddannelse",
    "forskning",
    "sundhed",
    "byggeri",
    "arkitektur",
]
ENGLISH = [
    "sustainability",
    "sustainable",
    "solutions",
    "customers",
    "advisory",
    "digital",
    "security",
    "leadership",
    "culture",
    "development",
    "colleagues",
    "workplace",
    "innovation",
    "energy",
    "green",
    "transition",
    "data",
    "analytics",
    "cloud",
    "platform",
    "automation",
    "manufacturing",
    "logistics",
    "sales",
    "market",
    "growth",
    "strategy",
    "talent",
    "recruiting",
    "education",
    "research",
    "health",
    "construction",
    "architecture",
]
SEGMENTS = ("sales_marketing", "specialist", "leadership", "everyone")


def vocabulary(rng: random.Random, size: int, words: Sequence[str]) -> list[str]:
    """`size` topic words: the real ones, then compounds of two (Danish makes them freely)."""
    out = list(dict.fromkeys(words))
    while len(out) < size:
        out.append(rng.choice(words) + rng.choice(words))
    return out[:size]


def build(
    people_count: int, item_count: int, seed: int, topic_words: int = 300
) -> tuple[list[Person], list[Item], Context]:
    """Items mention a few topic words in a body of everyday words; people name three topics.
    With few topic words (`--topic-words 35`) every item mentions nearly every topic: the
    densest text there can be."""
    rng = random.Random(seed)
    disciplines = {
        row.key: Discipline(row.key, row.challenge, tuple(row.segments), tuple(row.angle_prompts))
        for row in DEFAULT_PLAYBOOK
    }
    challenges = [d.challenge for d in disciplines.values()]
    programs = {UUID(int=900_000 + n): tuple(rng.sample(challenges, 2)) for n in range(10)}
    program_ids = [None, *programs]
    danish = vocabulary(rng, topic_words // 2, DANISH)
    english = vocabulary(rng, topic_words - topic_words // 2, ENGLISH)
    filler = [f"ord{n}" for n in range(2000)]
    people = []
    for n in range(people_count):
        words = danish if rng.random() < 0.6 else english
        people.append(
            Person(
                id=UUID(int=n + 1),
                segments=tuple(rng.sample(SEGMENTS, rng.choice((1, 1, 2)))),
                topics=tuple(rng.sample(words, 3)),
                languages=("da", "en") if rng.random() < 0.5 else (rng.choice(("da", "en")),),
                leadership=rng.random() < 0.05,
                posts_per_week=rng.choice((0.5, 1, 1, 2, 3)),
                quiet=rng.random() < 0.1,
                program_id=rng.choice(program_ids),
            )
        )
    items = []
    keys = list(disciplines)
    for n in range(item_count):
        is_danish = rng.random() < 0.6
        words = danish if is_danish else english
        topics = tuple(rng.sample(words, 2))
        body = rng.choices(filler, k=56) + rng.choices(words, k=4)
        rng.shuffle(body)
        items.append(
            Item(
                id=UUID(int=10_000_000 + n),
                title=" ".join([*rng.sample(words, 2), *rng.sample(filler, 4)]),
                body=" ".join(body),
                topics=topics,
                language="da" if is_danish else "en",
                disciplines=tuple(rng.sample(keys, rng.choice((1, 1, 2)))),
                segments=() if rng.random() < 0.8 else (rng.choice(SEGMENTS[:3]),),
                available_from=NOW - timedelta(days=rng.uniform(0, 30)),
            )
        )
    performance: dict[tuple[UUID, str], float] = {}
    for item in rng.sample(items, item_count // 3):
        for segment in SEGMENTS:
            if rng.random() < 0.5:
                performance[(item.id, segment)] = rng.uniform(0.005, 0.08)
    context = Context(
        now=NOW, disciplines=disciplines, objectives=programs, performance=performance
    )
    return people, items, context


# --- The straightforward per-pair implementation --------------------------------------------


def per_pair(
    people: Sequence[Person], library: ranking.Library, context: Context
) -> tuple[list[list[tuple[UUID, float]]], list[list[float]]]:
    """Every pair scored one at a time in plain Python, then each person's best items with the
    same cadence and cap rules: what one would write first."""
    vocabulary = library.vectorizer.vocabulary
    idf = library.vectorizer.idf
    item_vectors = []
    for row in range(library.matrix.shape[0]):
        start, end = library.matrix.indptr[row], library.matrix.indptr[row + 1]
        item_vectors.append(
            dict(
                zip(library.matrix.indices[start:end], library.matrix.data[start:end], strict=True)
            )
        )
    best = max(context.performance.values(), default=0.0)
    cap = max(1, math.floor(len(people) * ranking.MAX_SHARE_PER_DAY))
    pushed: dict[UUID, int] = {}
    chosen: list[list[tuple[UUID, float]]] = []
    all_scores: list[list[float]] = []
    for person in sorted(people, key=lambda p: str(p.id)):
        counts: dict[int, int] = {}
        for stem in ranking.stems(" ".join(person.topics)):  # the same words, one at a time
            if stem in vocabulary:
                counts[vocabulary[stem]] = counts.get(vocabulary[stem], 0) + 1
        weights = {term: count * idf[term] for term, count in counts.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        mine = {term: w / norm for term, w in weights.items()}
        segments = set(person.segments)
        languages = {tag.split("-")[0].lower() for tag in person.languages}
        objectives = context.objectives.get(person.program_id) if person.program_id else None
        person_hash = ranking.hash32(f"{person.id}:{context.now.date().isoformat()}")
        scored: list[tuple[float, int, float]] = []
        for index, item in enumerate(library.items):
            if (
                item.segments
                and "everyone" not in item.segments
                and not (segments & set(item.segments))
            ):
                continue
            known = [context.disciplines[k] for k in item.disciplines if k in context.disciplines]
            if any(segments & (set(d.segments) - {"everyone"}) for d in known):
                fit = ranking.FIT_SPECIFIC
            elif any("everyone" in d.segments for d in known):
                fit = ranking.FIT_EVERYONE
            elif not item.disciplines:
                fit = ranking.FIT_UNTAGGED
            else:
                fit = 0.0
            vector = item_vectors[index]
            cosine = sum(w * vector.get(term, 0.0) for term, w in mine.items())
            topic = min(cosine * ranking.TOPIC_SCALE, 1.0)
            language = 1.0 if item.language.split("-")[0].lower() in languages else 0.0
            age = max((context.now - item.available_from).total_seconds() / 86400, 0.0)
            fresh = 0.5 ** (age / ranking.FRESHNESS_HALF_LIFE_DAYS)
            objective = 0.0
            if objectives:
                for key in item.disciplines:
                    d = context.disciplines.get(key)
                    if d is not None and d.challenge in objectives:
                        objective = max(
                            objective, 1.0 - objectives.index(d.challenge) / len(objectives)
                        )
            performance = 0.0
            if best > 0:
                for segment in segments - {"everyone"}:
                    rate = context.performance.get((item.id, segment))
                    if rate is not None:
                        performance = max(performance, rate / best)
                overall = context.performance.get((item.id, "everyone"))
                if overall is not None:
                    performance = max(performance, overall / best * 0.5)
            score = (
                ranking.WEIGHTS["discipline_fit"] * fit
                + ranking.WEIGHTS["topic_match"] * topic
                + ranking.WEIGHTS["language"] * language
                + ranking.WEIGHTS["freshness"] * fresh
                + ranking.WEIGHTS["objective_priority"] * objective
                + ranking.WEIGHTS["learned_performance"] * performance
                + ranking.jitter(person_hash, ranking.hash32(str(item.id)))
            )
            scored.append((score, index, performance))
        all_scores.append([s for s, _, _ in sorted(scored, key=lambda x: x[1])])
        scored.sort(key=lambda x: (-x[0], x[1]))
        if person.quiet:
            scored = scored[: ranking.cadence_count(person) + ranking.CANDIDATES_SLACK]
            scored.sort(key=lambda x: (-x[2], -x[0], x[1]))
        picks: list[tuple[UUID, float]] = []
        for score, index, _ in scored:
            if len(picks) >= ranking.cadence_count(person):
                break
            item_id = library.items[index].id
            if score < ranking.MIN_SCORE or pushed.get(item_id, 0) >= cap:
                continue
            pushed[item_id] = pushed.get(item_id, 0) + 1
            picks.append((item_id, score))
        chosen.append(picks)
    return chosen, all_scores


def vectorised_scores(people: Sequence[Person], library: ranking.Library) -> list[list[float]]:
    ordered = sorted(people, key=lambda p: str(p.id))
    scores, _, _, _ = library.scores(ordered)
    allowed = scores > ranking.NOT_ALLOWED / 2
    return [row[mask].tolist() for row, mask in zip(scores, allowed, strict=True)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ambassadors", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--topic-words", type=int, default=300, help="topic vocabulary (35: the densest text)"
    )
    parser.add_argument(
        "--baseline-ambassadors",
        type=int,
        default=100,
        help="ambassadors the per-pair loop scores against all items (0: every one; slow)",
    )
    args = parser.parse_args(argv)
    people, items, context = build(args.ambassadors, args.items, args.seed, args.topic_words)
    pairs = len(people) * len(items)
    print(
        f"ranking {len(people):,} ambassadors x {len(items):,} items = {pairs:,} pairs "
        f"({args.topic_words} topic words)"
    )

    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    ranked = ranking.rank(people, items, context)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    suggested = sum(len(r.picks) for r in ranked)
    load = os.getloadavg()[0]
    print(
        f"vectorised: {elapsed:.2f} s wall, {cpu:.2f} s CPU ({suggested:,} suggestions; "
        f"load average {load:.1f} on {os.cpu_count()} cores)"
    )

    del ranked
    gc.collect()
    tracemalloc.start()
    ranking.rank(people, items, context)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (
        1 if sys.platform == "darwin" else 1024
    )
    print(f"peak memory: {peak / 2**20:.0f} MiB allocated while ranking (tracemalloc); "
          f"process peak resident {rss / 2**20:.0f} MiB")  # fmt: skip

    sample_size = args.baseline_ambassadors or len(people)
    sample = people[:sample_size]
    library = ranking.Library(items, context)
    started = time.perf_counter()
    _, loop_scores = per_pair(sample, library, context)
    loop_elapsed = time.perf_counter() - started
    sample_pairs = len(sample) * len(items)
    per_pair_seconds = loop_elapsed / sample_pairs
    whole = per_pair_seconds * pairs
    expected = vectorised_scores(sample, library)
    pairs_compared = zip(loop_scores, expected, strict=True)
    difference = max(
        (float(np.max(np.abs(np.array(a) - np.array(b)))) for a, b in pairs_compared if a),
        default=0.0,
    )
    kind = "measured" if sample_size == len(people) else "extrapolated from the sample"
    print(
        f"per-pair loop: {loop_elapsed:.2f} s for {sample_pairs:,} pairs "
        f"({per_pair_seconds * 1e6:.2f} us a pair); all pairs: {whole:.0f} s ({kind})"
    )
    print(f"same scores: largest difference {difference:.2e}")
    print(f"ratio: {whole / elapsed:.0f}x faster than the per-pair loop")


if __name__ == "__main__":
    main()
