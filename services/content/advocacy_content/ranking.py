"""The ranking of library items for ambassadors: vectorised, deterministic, explained.

Every (ambassador, item) pair gets six signals between 0 and 1, weighed into a score
(`WEIGHTS`, summing to 1); then each ambassador takes the best items their cadence allows, in a
fixed order of ambassadors, while no item goes to more than `MAX_SHARE_PER_DAY` of the cohort on
one day (diversity). The same inputs give the same output: items and people are ordered by id,
ties are broken by a hash of (ambassador, item, day), and nothing random or clock-dependent is
read here (the caller passes `now`).

The signals (docs/content.md says the same with examples):

- `discipline_fit` (0.30): the playbook maps segments to disciplines. 1 when one of the item's
  disciplines is for one of the ambassador's segments, 0.6 when only through a discipline for
  everyone, 0.3 for an item without disciplines, else 0.
- `topic_match` (0.25): the cosine of the ambassador's topics and the item's title, topics and
  text, as TF-IDF vectors of Danish and English Snowball stems (`tfidf`, PyStemmer), doubled
  and capped at 1 (a cosine of 0.5 is already a strong match for a handful of topic words).
- `language` (0.15): 1 when the item is in one of the ambassador's languages, else 0.
- `freshness` (0.10): halves every 7 days since the item became available.
- `objective_priority` (0.10): the rank of the program objective (a playbook challenge) the item's
  discipline serves: 1 for the first of n, down to 1/n for the last; 0 for none.
- `learned_performance` (0.10): the mean engagement rate of posts of the item by colleagues who
  share a segment with the ambassador, over the best such rate in the organisation (half the
  item's overall rate when no similar colleague posted it).

Items whose audience segments exclude the ambassador are not suggested at all; nor are pairs
scoring below `MIN_SCORE`. Every suggestion carries an angle prompt of its discipline (chosen per
person, so colleagues start from different angles); leaders also get a thought-leadership prompt.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import numpy as np
import numpy.typing as npt
import Stemmer
from scipy import sparse

from advocacy_content.tfidf import TfidfVectors, tokenize

WEIGHTS: dict[str, float] = {
    "discipline_fit": 0.30,
    "topic_match": 0.25,
    "language": 0.15,
    "freshness": 0.10,
    "objective_priority": 0.10,
    "learned_performance": 0.10,
}
SIGNALS = tuple(WEIGHTS)
MIN_SCORE = 0.25
"""Below this a pair is not worth suggesting (e.g. only fresh, nothing else fits)."""
MAX_SHARE_PER_DAY = 0.25
"""At most this share of the cohort (at least one person) gets the same item on one day."""
JITTER = 0.02
"""The largest tie-breaking spread, so colleagues with one profile see different orders."""
FRESHNESS_HALF_LIFE_DAYS = 7.0
FIT_SPECIFIC, FIT_EVERYONE, FIT_UNTAGGED = 1.0, 0.6, 0.3
TOPIC_SCALE = 2.0
EVERYONE = "everyone"
SEGMENTS = ("sales_marketing", "specialist", "leadership")
"""Segment bits; `everyone` is no bit: it is what every ambassador has."""
ALL_SEGMENTS = (1 << len(SEGMENTS)) - 1
THOUGHT_LEADERSHIP = "thought_leadership"
LEADERSHIP_PROMPTS = (
    "As a leader: where is our industry heading, and what are we doing about it?",
    "Share a decision you made this year and what it taught you",
    "Name a conviction about your field that you would defend in any room",
)
"""Thought-leadership prompts for the leadership track when the playbook has none of its own."""
DEFAULT_ANGLE = "Say in your own words why this matters to you and to the people you work with"
CANDIDATES_SLACK = 12
"""Candidates kept per person beyond their cadence, for the cohort's diversity to choose from."""
NOT_ALLOWED = -10.0
"""The score of a pair whose item's audience excludes the person: never suggested."""
DENSE_SPEEDUP = 16
"""How much faster a dense (BLAS) multiply-add is than a sparse one: the topic product runs dense
over the people's few terms unless the sparse product has that much less work."""
SHARED_GROUPS = 2048
"""Up to this many (segments, languages, program) groups, their signal tables are computed once
for everyone ranked; beyond, once per block of people."""
TOP_BLOCK = 64
"""Items per block when finding each person's best items (see `top_k`)."""
CHUNK = 1024
"""People scored at once: bounds the dense block (CHUNK x items float32) in memory."""


@dataclass(frozen=True)
class Discipline:
    key: str
    challenge: str
    segments: tuple[str, ...]
    angle_prompts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Item:
    id: UUID
    title: str
    body: str
    topics: tuple[str, ...]
    language: str
    disciplines: tuple[str, ...]
    segments: tuple[str, ...]
    available_from: datetime


@dataclass(frozen=True)
class Person:
    id: UUID
    segments: tuple[str, ...]
    topics: tuple[str, ...]
    languages: tuple[str, ...]
    leadership: bool = False
    posts_per_week: float = 1.0
    quiet: bool = False
    program_id: UUID | None = None
    nudged_recently: bool = False


@dataclass(frozen=True)
class Context:
    now: datetime
    disciplines: Mapping[str, Discipline]
    objectives: Mapping[UUID, tuple[str, ...]] = field(default_factory=dict)
    """Per program, its objectives (playbook challenges), highest priority first."""
    performance: Mapping[tuple[UUID, str], float] = field(default_factory=dict)
    """Mean engagement rate of an item's posts by authors of a segment (`everyone`: all)."""
    pushed_today: Mapping[UUID, int] = field(default_factory=dict)
    """How many colleagues got each item today already (before this ranking)."""
    cohort_size: int = 0
    """The ambassadors who may get suggestions; 0: the people ranked here."""


@dataclass(frozen=True)
class Pick:
    item: Item
    score: float
    values: dict[str, float]
    discipline: str | None
    angle_prompt: str
    leadership_prompt: str | None
    nudge: bool
    pushed: int
    cap: int


@dataclass(frozen=True)
class Ranked:
    person: Person
    picks: list[Pick]
    cadence: str


# --- Text: Danish and English stems, TF-IDF -------------------------------------------------------

_DANISH = Stemmer.Stemmer("danish")
_ENGLISH = Stemmer.Stemmer("english")


def stems(text: str) -> list[str]:
    """The text's words as Danish and English Snowball stems (PyStemmer): a Danish item about
    `bæredygtige løsninger` meets a topic `bæredygtighed`, an English one about `sustainable`
    meets `sustainability`, whichever language the topic was written in. A word whose two stems
    agree counts once."""
    return analysed([text])[0]


def analysed(texts: Sequence[str]) -> list[list[str]]:
    """`stems` of many texts, each distinct word stemmed once."""
    tokens = [tokenize(text.lower()) for text in texts]
    words = sorted(set().union(*tokens)) if tokens else []
    danish, english = _DANISH.stemWords(words), _ENGLISH.stemWords(words)
    both = {
        word: (da,) if da == en else (da, en)
        for word, da, en in zip(words, danish, english, strict=True)
    }
    return [[stem for token in row for stem in both[token]] for row in tokens]


def item_document(item: Item) -> str:
    """What the topic match reads of an item: the topics count twice, being chosen by a person."""
    topics = " ".join(item.topics)
    return f"{item.title}\n{topics}\n{topics}\n{item.body}"


def _language(tag: str) -> str:
    return tag.split("-")[0].strip().lower()


def _bits(segments: Sequence[str]) -> int:
    return sum(1 << SEGMENTS.index(s) for s in segments if s in SEGMENTS)


def _hash64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def hash32(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "big")


MIX = 0x9E3779B1
"""A 32-bit multiplicative hash constant (Knuth): mixes the pair's two hashes."""


def jitter(person_hash: int, item_hash: int) -> float:
    """The tie-breaker of one pair (32-bit hashes), as the vectorised ranking computes it."""
    mixed = ((person_hash ^ item_hash) * MIX) & 0xFFFFFFFF
    return (mixed >> 8) / float(1 << 24) * JITTER


def cadence_count(person: Person) -> int:
    """How many suggestions a day: two to choose from per post the person wants a week (1 to 10);
    none for 0 posts a week; one nudge for a quiet person, at most one a week."""
    if person.quiet:
        return 0 if person.nudged_recently else 1
    if person.posts_per_week <= 0:
        return 0
    return max(1, min(10, math.ceil(person.posts_per_week * 2)))


def cadence_text(person: Person) -> str:
    count = cadence_count(person)
    if person.quiet:
        if person.nudged_recently:
            return "You have been quiet lately; one gentle nudge a week at most, and you had it."
        return "You have been quiet lately: one gentle nudge with an item that engaged well."
    if count == 0:
        return "You asked for no posts a week: no suggestions."
    return (
        f"{count} suggestions: two to choose from for each of the "
        f"{person.posts_per_week:g} posts a week you prefer (at most 10)."
    )


Groups = tuple[npt.NDArray[np.intp], dict[str, npt.NDArray[np.float32]], npt.NDArray[np.float32]]
"""Each person's group, the group x item signal tables, the group x item part of the score."""


class Library:
    """The items of one organisation, prepared once for ranking any number of people."""

    def __init__(self, items: Sequence[Item], context: Context) -> None:
        self.items = sorted(items, key=lambda item: str(item.id))
        self.context = context
        n = len(self.items)
        self.vectorizer = TfidfVectors()
        documents = analysed([item_document(item) for item in self.items])
        self.matrix: sparse.csr_matrix = (
            self.vectorizer.fit_transform(documents)
            if n and any(documents)
            else sparse.csr_matrix((n, 1), dtype=np.float32)
        )
        self.fitted = self.matrix.shape[1] > 1 or (n > 0 and self.matrix.nnz > 0)
        self.languages: dict[str, int] = {}
        self.item_language = np.array(
            [self._language_bit(item.language) for item in self.items], dtype=np.int64
        )
        self.audience = np.array(
            [
                ALL_SEGMENTS
                if not item.segments or EVERYONE in item.segments
                else _bits(item.segments)
                for item in self.items
            ],
            dtype=np.int64,
        )
        disciplines = context.disciplines
        self.specific = np.zeros(n, dtype=np.int64)
        self.fit_default = np.zeros(n, dtype=np.float32)
        for index, item in enumerate(self.items):
            known = [disciplines[k] for k in item.disciplines if k in disciplines]
            self.specific[index] = _bits([s for d in known for s in d.segments])
            if any(EVERYONE in d.segments for d in known):
                self.fit_default[index] = FIT_EVERYONE
            elif not item.disciplines:
                self.fit_default[index] = FIT_UNTAGGED
        ages = np.array(
            [(context.now - item.available_from).total_seconds() / 86400 for item in self.items],
            dtype=np.float64,
        )
        self.freshness = np.clip(
            np.power(0.5, np.maximum(ages, 0) / FRESHNESS_HALF_LIFE_DAYS), 0, 1
        ).astype(np.float32)
        self.item_hash = np.array([hash32(str(item.id)) for item in self.items], dtype=np.uint32)
        self.csc = self.matrix.tocsc()
        self.discipline_keys = sorted({k for item in self.items for k in item.disciplines})
        column = {key: i for i, key in enumerate(self.discipline_keys)}
        self.item_disciplines = np.zeros((n, max(1, len(column))), dtype=np.float32)
        for index, item in enumerate(self.items):
            for key in item.disciplines:
                self.item_disciplines[index, column[key]] = 1.0
        self._objectives_by_program: dict[UUID | None, int] = {None: 0}
        rows = [np.zeros(n, dtype=np.float32)]
        for program_id, objectives in sorted(context.objectives.items(), key=lambda p: str(p[0])):
            self._objectives_by_program[program_id] = len(rows)
            rows.append(self._objective_row(objectives))
        self.objective_rows = np.vstack(rows) if n else np.zeros((len(rows), 0), np.float32)
        self.performance, self.best_rate = self._performance_rows()

    def _language_bit(self, tag: str) -> int:
        language = _language(tag)
        if language not in self.languages:
            self.languages[language] = min(len(self.languages), 63)
        return self.languages[language]

    def _objective_row(self, objectives: Sequence[str]) -> npt.NDArray[np.float32]:
        """Per item, the best priority among its disciplines' challenges."""
        values = np.array(
            [self.objective_value(objectives, key) for key in self.discipline_keys] or [0.0],
            dtype=np.float32,
        )
        if not self.discipline_keys or not len(self.items):
            return np.zeros(len(self.items), dtype=np.float32)
        return np.asarray((self.item_disciplines * values[None, :]).max(axis=1), np.float32)

    def objective_value(self, objectives: Sequence[str], key: str) -> float:
        discipline = self.context.disciplines.get(key)
        if discipline is None or discipline.challenge not in objectives:
            return 0.0
        return 1.0 - objectives.index(discipline.challenge) / len(objectives)

    def _performance_rows(self) -> tuple[npt.NDArray[np.float32], float]:
        """One row per segment bit and a last row for everyone: the normalised mean rate."""
        rows = np.zeros((len(SEGMENTS) + 1, len(self.items)), dtype=np.float32)
        best = max(self.context.performance.values(), default=0.0)
        if best <= 0:
            return rows, 0.0
        index = {item.id: i for i, item in enumerate(self.items)}
        for (item_id, segment), rate in self.context.performance.items():
            if item_id not in index:
                continue
            row = SEGMENTS.index(segment) if segment in SEGMENTS else len(SEGMENTS)
            rows[row, index[item_id]] = rate / best
        return rows, best

    # --- Scoring ---------------------------------------------------------------------------------

    def person_vectors(self, people: Sequence[Person]) -> sparse.csr_matrix:
        if not self.fitted:
            return sparse.csr_matrix((len(people), self.matrix.shape[1]), dtype=np.float32)
        return self.vectorizer.transform(analysed([" ".join(p.topics) for p in people]))

    def topic(self, vectors: sparse.csr_matrix) -> npt.NDArray[np.float32]:
        """The topic match of a block of people x all items. The people's topics use few terms:
        the product runs dense (BLAS) over those columns only, sparse when there are many."""
        rows, n = vectors.shape[0], len(self.items)
        if not vectors.nnz or not n:
            return np.zeros((rows, n), dtype=np.float32)
        columns = np.unique(vectors.indices)
        uses = np.bincount(vectors.indices, minlength=vectors.shape[1])[columns]
        sparse_work = float(uses @ np.diff(self.csc.indptr)[columns])
        if rows * len(columns) * n <= DENSE_SPEEDUP * sparse_work:
            people = vectors[:, columns].toarray()
            items = self.csc[:, columns].toarray()
            cosine = people @ items.T
        else:
            cosine = (vectors @ self.matrix.T).toarray()
        cosine = np.asarray(cosine, dtype=np.float32)
        cosine *= np.float32(TOPIC_SCALE)
        np.minimum(cosine, np.float32(1.0), out=cosine)
        return cosine

    def group_key(self, person: Person) -> tuple[int, int, int]:
        return (
            _bits(person.segments),
            self._spoken(person.languages),
            self._objectives_by_program.get(person.program_id, 0),
        )

    def group_tables(
        self, people: Sequence[Person], keys_of: Sequence[tuple[int, int, int]] | None = None
    ) -> Groups:
        """The signals that depend on a person only through their segments, languages and
        program, computed once per such group: (each person's group, the group x item signal
        tables, the group x item part of the score, NOT_ALLOWED where the audience excludes)."""
        keys: dict[tuple[int, int, int], int] = {}
        group_of = np.empty(len(people), dtype=np.intp)
        for row, person in enumerate(people):
            key = keys_of[row] if keys_of is not None else self.group_key(person)
            group_of[row] = keys.setdefault(key, len(keys))
        groups = list(keys)
        bits = np.array([g[0] for g in groups], dtype=np.int64)[:, None]
        spoken = np.array([g[1] for g in groups], dtype=np.uint64).view(np.int64)[:, None]
        fit = np.where(
            (bits & self.specific[None, :]) != 0, np.float32(FIT_SPECIFIC), self.fit_default
        ).astype(np.float32)
        language = ((spoken >> self.item_language[None, :]) & 1).astype(np.float32)
        objective = self.objective_rows[[g[2] for g in groups]]
        performance = np.zeros((len(groups), len(self.items)), dtype=np.float32)
        if self.best_rate > 0:
            for row in range(len(SEGMENTS)):
                has = (bits[:, 0] >> row) & 1 == 1
                performance[has] = np.maximum(performance[has], self.performance[row])
            performance = np.maximum(performance, self.performance[len(SEGMENTS)] * 0.5)
        allowed = ((bits & self.audience[None, :]) != 0) | (self.audience == ALL_SEGMENTS)[None, :]
        tables = {
            "discipline_fit": fit,
            "language": language,
            "objective_priority": objective,
            "learned_performance": performance,
        }
        base = np.float32(WEIGHTS["freshness"]) * self.freshness[None, :] + np.zeros_like(fit)
        for name, table in tables.items():
            base += np.float32(WEIGHTS[name]) * table
        base[~allowed] = NOT_ALLOWED
        return group_of, tables, base

    def _spoken(self, languages: Sequence[str]) -> int:
        return sum(
            1 << self.languages[_language(tag)]
            for tag in set(languages)
            if _language(tag) in self.languages
        )

    def scores(
        self, people: Sequence[Person], groups: Groups | None = None
    ) -> tuple[
        npt.NDArray[np.float32],
        npt.NDArray[np.float32],
        npt.NDArray[np.intp],
        dict[str, npt.NDArray[np.float32]],
    ]:
        """A block of people x all items: (scores, topic match, groups, group tables); `groups`
        are the block's, when computed beforehand for everyone."""
        group_of, tables, base = groups or self.group_tables(people)
        topic = self.topic(self.person_vectors(people))
        total = base[group_of]
        total += np.float32(WEIGHTS["topic_match"]) * topic
        person_hash = np.array([hash32(self._day_key(p)) for p in people], dtype=np.uint32)
        mixed = (person_hash[:, None] ^ self.item_hash[None, :]) * np.uint32(MIX)
        spread = (mixed >> np.uint32(8)).view(np.int32).astype(np.float32)  # int32: SIMD
        total += spread * np.float32(JITTER / (1 << 24))
        return total, topic, group_of, tables

    def _day_key(self, person: Person) -> str:
        return f"{person.id}:{self.context.now.date().isoformat()}"


def rank(
    people: Sequence[Person], items: Sequence[Item], context: Context, limit: int | None = None
) -> list[Ranked]:
    """The suggestions of each person (in the order given), ranked and spread over the cohort;
    `limit` replaces the cadence's count (a program manager's preview)."""
    library = Library(items, context)
    ordered = sorted(people, key=lambda p: str(p.id))
    cohort = context.cohort_size or len(ordered)
    cap = max(1, math.floor(cohort * MAX_SHARE_PER_DAY))
    by_id = {item.id: index for index, item in enumerate(library.items)}
    pushed = {by_id[k]: v for k, v in context.pushed_today.items() if k in by_id}
    candidates = _candidates(library, ordered, limit)
    result: dict[UUID, Ranked] = {}
    for person, (indices, scores, values) in zip(ordered, candidates, strict=True):
        count = cadence_count(person) if limit is None or person.quiet else limit
        order: Sequence[int] = range(len(indices))
        if person.quiet:
            order = sorted(order, key=lambda c: (-values[c][5], -scores[c], indices[c]))
        picks: list[Pick] = []
        for c in order:
            if len(picks) >= count:
                break
            index = int(indices[c])
            if scores[c] < MIN_SCORE or pushed.get(index, 0) >= cap:
                continue
            item = library.items[index]
            pushed[index] = pushed.get(index, 0) + 1
            picks.append(
                _pick(library, person, item, float(scores[c]), values[c], pushed[index], cap)
            )
        result[person.id] = Ranked(person, picks, cadence_text(person))
    return [result[p.id] for p in people]


def top_k(scores: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.intp]:
    """Per row, the indices of `k` largest scores (unordered). Rows are cut into blocks of
    `TOP_BLOCK` items: the k best items lie in the k blocks with the largest maxima (each block
    ranked above another holds an item at least as good), so only those blocks are searched."""
    rows, n = scores.shape
    if k * TOP_BLOCK * 2 > n:
        return np.argpartition(-scores, k - 1, axis=1)[:, :k]
    blocks = -(-n // TOP_BLOCK)
    padded = np.full((rows, blocks * TOP_BLOCK), -np.inf, dtype=np.float32)
    padded[:, :n] = scores
    shaped = padded.reshape(rows, blocks, TOP_BLOCK)
    best_blocks = np.argpartition(-shaped.max(axis=2), k - 1, axis=1)[:, :k]
    gathered = np.take_along_axis(shaped, best_blocks[:, :, None], axis=1).reshape(rows, -1)
    local = np.argpartition(-gathered, k - 1, axis=1)[:, :k]
    block = np.take_along_axis(best_blocks, local // TOP_BLOCK, axis=1)
    found: npt.NDArray[np.intp] = np.minimum(block * TOP_BLOCK + local % TOP_BLOCK, n - 1)
    return found


def _candidates(
    library: Library, people: Sequence[Person], limit: int | None
) -> list[tuple[npt.NDArray[np.intp], npt.NDArray[np.float32], npt.NDArray[np.float32]]]:
    """Per person, the best items (index, score, signal values), best first, ties by index."""
    out: list[tuple[npt.NDArray[np.intp], npt.NDArray[np.float32], npt.NDArray[np.float32]]] = []
    n = len(library.items)
    keys = [library.group_key(p) for p in people] if n else []
    shared = library.group_tables(people, keys) if n and len(set(keys)) <= SHARED_GROUPS else None
    for start in range(0, len(people), CHUNK):
        block = people[start : start + CHUNK]
        if n == 0:
            empty = np.zeros(0, dtype=np.intp)
            out += [(empty, np.zeros(0, np.float32), np.zeros((0, 6), np.float32))] * len(block)
            continue
        groups = (
            (shared[0][start : start + CHUNK], shared[1], shared[2]) if shared is not None else None
        )
        scores, topic, group_of, tables = library.scores(block, groups)
        most = limit if limit is not None else max(cadence_count(p) for p in block)
        keep = min(n, max(most, 1) + CANDIDATES_SLACK)
        top = top_k(scores, keep) if keep < n else np.tile(np.arange(n), (len(block), 1))
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.lexsort((top, -top_scores), axis=1)
        top = np.take_along_axis(top, order, axis=1)
        top_scores = np.take_along_axis(top_scores, order, axis=1)
        rows = group_of[:, None]
        columns = {
            "topic_match": np.take_along_axis(topic, top, axis=1),
            "freshness": library.freshness[top],
            **{name: table[rows, top] for name, table in tables.items()},
        }
        stacked = np.stack([columns[s] for s in SIGNALS], axis=2)
        out += [(top[r], top_scores[r], stacked[r]) for r in range(len(block))]
    return out


# --- Explanations ---------------------------------------------------------------------------------


def _choose(options: Sequence[str], *keys: object) -> str:
    return options[_hash64(":".join(map(str, keys))) % len(options)]


def _fit_discipline(library: Library, person: Person, item: Item) -> Discipline | None:
    known = [
        library.context.disciplines[k] for k in item.disciplines if k in library.context.disciplines
    ]
    mine = set(person.segments)
    return (
        next((d for d in known if mine & set(d.segments) - {EVERYONE}), None)
        or next((d for d in known if EVERYONE in d.segments), None)
        or (known[0] if known else None)
    )


def _pick(
    library: Library,
    person: Person,
    item: Item,
    score: float,
    row: npt.NDArray[np.float32],
    pushed: int,
    cap: int,
) -> Pick:
    discipline = _fit_discipline(library, person, item)
    prompts = discipline.angle_prompts if discipline and discipline.angle_prompts else ()
    angle = _choose(prompts, person.id, item.id) if prompts else DEFAULT_ANGLE
    leadership_prompt = None
    if person.leadership:
        own = library.context.disciplines.get(THOUGHT_LEADERSHIP)
        options = [p for p in (own.angle_prompts if own else ()) if p != angle]
        leadership_prompt = _choose(options or LEADERSHIP_PROMPTS, "lead", person.id, item.id)
    return Pick(
        item=item,
        score=round(score, 4),
        values={s: round(float(v), 4) for s, v in zip(SIGNALS, row, strict=True)},
        discipline=discipline.key if discipline else None,
        angle_prompt=angle,
        leadership_prompt=leadership_prompt,
        nudge=person.quiet,
        pushed=pushed,
        cap=cap,
    )


def reasons(library_context: Context, person: Person, pick: Pick) -> dict[str, str]:
    """Each signal of a pick in words (the explanation an ambassador reads)."""
    item, values = pick.item, pick.values
    disciplines = library_context.disciplines
    discipline = disciplines.get(pick.discipline or "")
    words: dict[str, str] = {}
    if discipline is None:
        words["discipline_fit"] = (
            "The item names no discipline of the playbook: a neutral fit."
            if not item.disciplines
            else f"None of the item's disciplines ({', '.join(item.disciplines)}) is in the "
            "playbook."
        )
    elif values["discipline_fit"] >= FIT_SPECIFIC:
        shared = sorted(set(person.segments) & set(discipline.segments))
        words["discipline_fit"] = (
            f"It serves the discipline '{discipline.key}', which the playbook gives to "
            f"{', '.join(shared)} colleagues like you."
        )
    elif values["discipline_fit"] > 0:
        words["discipline_fit"] = (
            f"It serves the discipline '{discipline.key}', which the playbook gives to everyone."
        )
    else:
        words["discipline_fit"] = (
            f"Its discipline '{discipline.key}' is for {', '.join(discipline.segments)}, "
            f"not for your segments ({', '.join(person.segments) or 'none'})."
        )
    item_stems = set(stems(item_document(item)))
    matched = [t for t in person.topics if set(stems(t)) & item_stems]
    if matched:
        words["topic_match"] = (
            f"It matches your topics {', '.join(repr(t) for t in matched)} "
            f"(similarity {values['topic_match']:.2f} of 1)."
        )
    else:
        words["topic_match"] = (
            "None of your topics appears in it."
            if person.topics
            else "You have named no topics yet, so no topic matches."
        )
    spoken = ", ".join(person.languages) or "none"
    words["language"] = (
        f"It is written in {item.language}, one of your languages ({spoken})."
        if values["language"] >= 1
        else f"It is written in {item.language}, which is not among your languages ({spoken})."
    )
    age = max(0.0, (library_context.now - item.available_from).total_seconds() / 86400)
    words["freshness"] = (
        f"Available for {age:.0f} days (freshness halves every {FRESHNESS_HALF_LIFE_DAYS:g} days)."
    )
    objectives = library_context.objectives.get(person.program_id) if person.program_id else None
    served = [
        disciplines[k].challenge
        for k in item.disciplines
        if k in disciplines and objectives and disciplines[k].challenge in objectives
    ]
    if objectives and served:
        best = min(objectives.index(c) for c in served)
        words["objective_priority"] = (
            f"It serves your program's objective #{best + 1} of {len(objectives)}: "
            f"'{objectives[best]}'."
        )
    elif objectives:
        words["objective_priority"] = "It serves none of your program's objectives."
    else:
        words["objective_priority"] = "You are in no program with objectives: no priority."
    similar = [s for s in person.segments if (item.id, s) in library_context.performance]
    overall = library_context.performance.get((item.id, EVERYONE))
    if similar:
        rate = max(library_context.performance[(item.id, s)] for s in similar)
        words["learned_performance"] = (
            f"Posts of it by colleagues in your segment engaged {rate:.1%} on average."
        )
    elif overall is not None:
        words["learned_performance"] = (
            f"Posts of it engaged {overall:.1%} on average, though not yet by colleagues like you."
        )
    else:
        words["learned_performance"] = "Not measured yet: nobody has posted it so far."
    words["diversity"] = (
        f"Suggested to {pick.pushed} of at most {pick.cap} colleagues today, so that the cohort "
        "does not all post the same thing; start from the angle prompt in your own words."
    )
    return words


SHORT = {
    "discipline_fit": "fits your discipline",
    "topic_match": "matches your topics",
    "language": "is in your language",
    "freshness": "is fresh",
    "objective_priority": "serves a program priority",
    "learned_performance": "engaged well for colleagues like you",
}


def summary(pick: Pick) -> str:
    """Why, in one sentence: the two signals that contributed most."""
    contributions = sorted(
        ((WEIGHTS[s] * pick.values[s], s) for s in SIGNALS if pick.values[s] > 0), reverse=True
    )
    top = [SHORT[s] for _, s in contributions[:2]]
    if pick.nudge:
        return "A gentle nudge: an item that " + (" and ".join(top) or "is in the library") + "."
    return "Suggested because it " + (" and ".join(top) or "is in the library") + "."
