"""The ranking's behaviour, signal by signal, on plain inputs (no database, no broker)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from advocacy_content import ranking
from advocacy_content.ranking import Context, Discipline, Item, Person
from advocacy_shared.contracts.planner import DEFAULT_PLAYBOOK

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
DISCIPLINES = {
    row.key: Discipline(row.key, row.challenge, tuple(row.segments), tuple(row.angle_prompts))
    for row in DEFAULT_PLAYBOOK
}


def uid(n: int) -> UUID:
    return UUID(int=n)


def item(n: int, title: str, *, disciplines: tuple[str, ...] = (), language: str = "da",
         topics: tuple[str, ...] = (), body: str = "", age_days: float = 1,
         segments: tuple[str, ...] = ()) -> Item:  # fmt: skip
    return Item(
        id=uid(1000 + n),
        title=title,
        body=body,
        topics=topics,
        language=language,
        disciplines=disciplines,
        segments=segments,
        available_from=NOW - timedelta(days=age_days),
    )


def person(n: int, *, segments: tuple[str, ...] = ("everyone",), topics: tuple[str, ...] = (),
           languages: tuple[str, ...] = ("da", "en"), **other: object) -> Person:  # fmt: skip
    return Person(id=uid(n), segments=segments, topics=topics, languages=languages, **other)  # type: ignore[arg-type]


def context(**changes: object) -> Context:
    return Context(now=NOW, disciplines=DISCIPLINES, **changes)  # type: ignore[arg-type]


def titles(ranked: ranking.Ranked) -> list[str]:
    return [pick.item.title for pick in ranked.picks]


def test_discipline_fit_follows_the_playbooks_segments() -> None:
    items = [
        item(1, "Kundecase", disciplines=("social_selling",)),
        item(2, "Branchevision", disciplines=("thought_leadership",)),
        item(3, "En dag hos os", disciplines=("employer_branding",)),
    ]
    seller = person(1, segments=("sales_marketing",), posts_per_week=0.5)
    specialist = person(2, segments=("specialist",), posts_per_week=0.5)
    ranked_seller, ranked_specialist = ranking.rank([seller, specialist], items, context())
    assert titles(ranked_seller)[0] == "Kundecase"
    assert ranked_seller.picks[0].values["discipline_fit"] == 1.0
    assert ranked_seller.picks[0].discipline == "social_selling"
    assert titles(ranked_specialist)[0] == "Branchevision"
    everyone = ranking.rank([seller], [items[2]], context())[0].picks[0]
    assert everyone.values["discipline_fit"] == ranking.FIT_EVERYONE
    wrong = ranking.rank([seller], [items[1]], context())[0].picks
    assert wrong == [] or wrong[0].values["discipline_fit"] == 0.0


def test_danish_topics_match_inflected_danish_text() -> None:
    items = [
        item(1, "Bæredygtige løsninger hos vores kunder", body="Vi reducerer CO2-udledningen"),
        item(2, "Nye kontorer i Aarhus", body="Vi flytter ind i nye lokaler"),
    ]
    reader = person(1, topics=("bæredygtighed",), posts_per_week=0.5)
    (ranked,) = ranking.rank([reader], items, context())
    best = ranked.picks[0]
    assert best.item.title.startswith("Bæredygtige")
    assert best.values["topic_match"] > 0.3
    words = ranking.reasons(context(), reader, best)
    assert "'bæredygtighed'" in words["topic_match"]


def test_english_topics_match_inflected_english_text() -> None:
    items = [
        item(1, "Why sustainable architecture pays off", language="en"),
        item(2, "Our new office opens", language="en"),
    ]
    reader = person(1, topics=("sustainability",), posts_per_week=0.5)
    (ranked,) = ranking.rank([reader], items, context())
    assert ranked.picks[0].item.title.startswith("Why sustainable")
    assert ranked.picks[0].values["topic_match"] > 0.3
    other = next(p for p in ranking.rank([reader], items[1:], context())[0].picks)
    assert other.values["topic_match"] == 0.0


def test_language_is_a_signal() -> None:
    items = [item(1, "Kunder i fokus", language="da"), item(2, "Customers first", language="en")]
    english_only = person(1, languages=("en-GB",), posts_per_week=0.5)
    (ranked,) = ranking.rank([english_only], items, context())
    assert titles(ranked)[0] == "Customers first"
    assert ranked.picks[0].values["language"] == 1.0


def test_an_item_for_other_segments_is_never_suggested() -> None:
    only_leaders = item(1, "Til ledere", segments=("leadership",))
    assert (
        ranking.rank([person(1, segments=("specialist",))], [only_leaders], context())[0].picks
        == []
    )
    leader = person(2, segments=("leadership",))
    assert titles(ranking.rank([leader], [only_leaders], context())[0]) == ["Til ledere"]


def test_diversity_no_item_reaches_the_whole_cohort_on_one_day() -> None:
    items = [item(n, f"Case {n}", disciplines=("social_selling",)) for n in range(6)]
    cohort = [person(n, segments=("sales_marketing",), posts_per_week=1) for n in range(20)]
    ranked = ranking.rank(cohort, items, context())
    counts: dict[str, int] = {}
    for entry in ranked:
        for title in titles(entry):
            counts[title] = counts.get(title, 0) + 1
    cap = int(len(cohort) * ranking.MAX_SHARE_PER_DAY)
    assert max(counts.values()) <= cap < len(cohort)
    assert len(counts) == len(items)
    assert len({tuple(titles(entry)) for entry in ranked}) > 1
    prompts = {pick.angle_prompt for entry in ranked for pick in entry.picks}
    assert prompts <= set(DISCIPLINES["social_selling"].angle_prompts)
    assert len(prompts) == 2, "colleagues start from different angle prompts"


def test_already_pushed_items_count_against_the_days_cap() -> None:
    items = [item(1, "Case A"), item(2, "Case B")]
    pushed = {items[0].id: 1}
    (ranked,) = ranking.rank([person(1)], items, context(pushed_today=pushed, cohort_size=4))
    assert titles(ranked) == ["Case B"]


def test_cadence_follows_the_preferred_frequency() -> None:
    items = [item(n, f"Case {n}") for n in range(30)]
    assert [len(r.picks) for r in ranking.rank(
        [person(1, posts_per_week=1), person(2, posts_per_week=3), person(3, posts_per_week=0)],
        items, context(cohort_size=1000))] == [2, 6, 0]  # fmt: skip
    assert ranking.cadence_count(person(4, posts_per_week=20)) == 10


def test_a_quiet_ambassador_gets_one_gentle_nudge_with_a_proven_item() -> None:
    fresh = item(1, "Helt ny case", age_days=0)
    proven = item(2, "Case der virkede", age_days=20)
    performance = {(proven.id, "everyone"): 0.08, (proven.id, "sales_marketing"): 0.09}
    quiet = person(1, segments=("sales_marketing",), quiet=True)
    (ranked,) = ranking.rank([quiet], [fresh, proven], context(performance=performance))
    (nudge,) = ranked.picks
    assert nudge.nudge
    assert nudge.item.title == "Case der virkede"
    assert ranking.summary(nudge).startswith("A gentle nudge")
    assert "quiet" in ranked.cadence
    words = ranking.reasons(context(performance=performance), quiet, nudge)
    assert "9.0%" in words["learned_performance"]
    again = person(1, segments=("sales_marketing",), quiet=True, nudged_recently=True)
    assert ranking.rank([again], [fresh, proven], context(performance=performance))[0].picks == []


def test_leaders_get_thought_leadership_prompts() -> None:
    items = [item(1, "Kundecase", disciplines=("social_selling",))]
    leader = person(1, segments=("sales_marketing", "leadership"), leadership=True)
    colleague = person(2, segments=("sales_marketing",))
    led, plain = ranking.rank([leader, colleague], items * 1, context(cohort_size=8))
    assert led.picks[0].leadership_prompt in DISCIPLINES["thought_leadership"].angle_prompts
    assert led.picks[0].angle_prompt in DISCIPLINES["social_selling"].angle_prompts
    assert plain.picks[0].leadership_prompt is None
    without = {k: v for k, v in DISCIPLINES.items() if k != "thought_leadership"}
    ctx = Context(now=NOW, disciplines=without)
    assert ranking.rank([leader], items, ctx)[0].picks[0].leadership_prompt in (
        ranking.LEADERSHIP_PROMPTS
    )


def test_objective_priority_prefers_the_programs_first_objective() -> None:
    program = uid(77)
    objectives = {program: ("Qualified applicants", "Sales & lead generation")}
    items = [
        item(1, "Kundecase", disciplines=("social_selling",)),
        item(2, "En dag hos os", disciplines=("employer_branding",)),
    ]
    member = person(1, program_id=program, posts_per_week=1)
    (ranked,) = ranking.rank([member], items, context(objectives=objectives))
    values = {p.item.title: p.values["objective_priority"] for p in ranked.picks}
    assert values == {"En dag hos os": 1.0, "Kundecase": 0.5}
    words = ranking.reasons(context(objectives=objectives), member, ranked.picks[0])
    assert "objective #1 of 2: 'Qualified applicants'" in words["objective_priority"]


def test_every_suggestion_explains_every_signal_in_words() -> None:
    items = [item(1, "Bæredygtige kundeløsninger", disciplines=("social_selling",),
                  topics=("bæredygtighed",))]  # fmt: skip
    seller = person(1, segments=("sales_marketing",), topics=("bæredygtighed",))
    (ranked,) = ranking.rank([seller], items, context())
    (pick,) = ranked.picks
    words = ranking.reasons(context(), seller, pick)
    assert set(words) == {*ranking.SIGNALS, "diversity"}
    assert "social_selling" in words["discipline_fit"]
    assert "sales_marketing colleagues like you" in words["discipline_fit"]
    assert "one of your languages" in words["language"]
    assert "Not measured yet" in words["learned_performance"]
    assert "own words" in words["diversity"]
    assert ranking.summary(pick) == (
        "Suggested because it fits your discipline and matches your topics."
    )
    assert abs(sum(ranking.WEIGHTS.values()) - 1.0) < 1e-9
    expected = sum(ranking.WEIGHTS[s] * pick.values[s] for s in ranking.SIGNALS)
    assert expected <= pick.score <= expected + ranking.JITTER + 1e-3


def test_the_same_inputs_give_the_same_output_whatever_their_order() -> None:
    items = [item(n, f"Case {n}", topics=("cloud",)) for n in range(12)]
    cohort = [person(n, topics=("cloud",), posts_per_week=2) for n in range(9)]
    first = ranking.rank(cohort, items, context())
    second = ranking.rank(list(reversed(cohort)), list(reversed(items)), context())

    def as_lists(rs: list[ranking.Ranked]) -> dict[UUID, list[tuple[UUID, float, str]]]:
        return {r.person.id: [(p.item.id, p.score, p.angle_prompt) for p in r.picks] for r in rs}

    assert as_lists(first) == as_lists(second)
