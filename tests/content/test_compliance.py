"""The compliance rules, one by one: each violation names its rule and says why in words."""

from __future__ import annotations

from dataclasses import dataclass, field

from advocacy_content.compliance import check_text


@dataclass
class Rules:
    required_disclosure: str | None = None
    blocked_phrases: list[str] = field(default_factory=list)
    allowed_link_domains: list[str] = field(default_factory=list)


def rules_broken(rules: Rules, text: str, links: tuple[str, ...] = ()) -> list[str]:
    return [v.rule for v in check_text(rules, text, links)]


def test_no_rules_allow_everything() -> None:
    assert check_text(None, "anything https://evil.example") == []
    assert check_text(Rules(), "anything https://evil.example") == []


def test_the_required_disclosure_must_appear_ignoring_case() -> None:
    rules = Rules(required_disclosure="#Medarbejder")
    (violation,) = check_text(rules, "Se vores nye case")
    assert violation.rule == "required_disclosure"
    assert "#Medarbejder" in violation.message
    assert rules_broken(rules, "Se vores nye case #medarbejder") == []


def test_blocked_phrases_match_whole_words_ignoring_case_and_spacing() -> None:
    rules = Rules(blocked_phrases=["guaranteed returns", "sale"])
    (violation,) = check_text(rules, "We offer GUARANTEED   returns to all")
    assert violation.rule == "blocked_phrase"
    assert violation.value == "guaranteed returns"
    assert rules_broken(rules, "Our wholesale business grows") == []
    assert rules_broken(rules, "Big sale today!") == ["blocked_phrase"]
    assert rules_broken(Rules(blocked_phrases=["gratis"]), "Helt GRATIS for dig") == [
        "blocked_phrase"
    ]


def test_links_must_point_to_an_allowed_domain_or_a_subdomain() -> None:
    rules = Rules(allowed_link_domains=["acme.dk"])
    assert rules_broken(rules, "Read more", ("https://www.acme.dk/case",)) == []
    assert rules_broken(rules, "Read more", ("https://acme.dk",)) == []
    (violation,) = check_text(rules, "Read more", ("https://acme.dk.evil.com/x",))
    assert violation.rule == "link_domain"
    assert "acme.dk.evil.com" in violation.message
    assert rules_broken(rules, "See https://evil.example/path in the text") == ["link_domain"]


def test_every_broken_rule_is_reported_in_order() -> None:
    rules = Rules(
        required_disclosure="#ad", blocked_phrases=["cheap"], allowed_link_domains=["acme.dk"]
    )
    assert rules_broken(rules, "cheap stuff", ("https://other.dk",)) == [
        "required_disclosure",
        "blocked_phrase",
        "link_domain",
    ]
