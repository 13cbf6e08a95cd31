"""An organisation's compliance rules, checked when an item is submitted and when a post is written.

Three rules, each named in the violation it produces (and so in the problem details an API caller
gets):

- `required_disclosure`: the text contains the disclosure (e.g. `#ad`), ignoring case;
- `blocked_phrase`: the text contains none of the blocked words or phrases, matched as whole words
  and ignoring case (`sale` does not block `wholesale`);
- `link_domain`: every link (given, or found in the text) points to an allowed domain or one of its
  subdomains; with no allowed domains every link is allowed.

`check_text` is a plain function: the posting side calls it with the text of a post.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Protocol
from urllib.parse import urlsplit

from advocacy_shared.contracts.content import Violation

URL_IN_TEXT = re.compile(r"https?://[^\s<>\"')\]]+", re.IGNORECASE)


class Rules(Protocol):
    @property
    def required_disclosure(self) -> str | None: ...
    @property
    def blocked_phrases(self) -> Sequence[str]: ...
    @property
    def allowed_link_domains(self) -> Sequence[str]: ...


def check_text(rules: Rules | None, text: str, links: Iterable[str] = ()) -> list[Violation]:
    """Every rule the text and its links break, in the rules' order; empty when it complies."""
    if rules is None:
        return []
    violations: list[Violation] = []
    disclosure = (rules.required_disclosure or "").strip()
    if disclosure and disclosure.casefold() not in text.casefold():
        violations.append(
            Violation(
                rule="required_disclosure",
                message=f"the text must contain the disclosure {disclosure!r}",
                value=disclosure,
            )
        )
    for phrase in rules.blocked_phrases:
        if _contains_phrase(text, phrase):
            violations.append(
                Violation(
                    rule="blocked_phrase",
                    message=f"the text contains the blocked phrase {phrase!r}",
                    value=phrase,
                )
            )
    allowed = [d.strip().lower().strip(".") for d in rules.allowed_link_domains if d.strip()]
    if allowed:
        every_link = list(dict.fromkeys([*links, *URL_IN_TEXT.findall(text)]))
        for link in every_link:
            host = (urlsplit(link).hostname or "").lower().rstrip(".")
            if not any(host == domain or host.endswith("." + domain) for domain in allowed):
                violations.append(
                    Violation(
                        rule="link_domain",
                        message=f"the link {link!r} points to {host or 'no domain'}, which is "
                        f"not among the allowed domains ({', '.join(allowed)})",
                        value=link,
                    )
                )
    return violations


def _contains_phrase(text: str, phrase: str) -> bool:
    words = phrase.split()
    if not words:
        return False
    pattern = r"(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w)"
    return re.search(pattern, text, re.IGNORECASE) is not None
