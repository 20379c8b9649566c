"""The offline persona composer (tasks ``persona_text`` and ``section_text``): deterministic, data-driven Japanese persona text built from the generation context.

No model is involved. Sentences are chosen from template pools that only apply when the facts they mention are
known (complaint, patient type traits, age, occupation, family, keywords ...), in a seeded order, until each
section reaches its target length (within about ±15 %). The wording follows 医療広告ガイドライン: no cure
promises, no superlatives, no comparisons with other clinics.

This module chooses and joins the sentences; the context is read into facts and excluded tags by
``offline_text_facts.py``, and the templates and word banks are data in ``offline_text_pools.py``.
"""

from __future__ import annotations

import random
import string
from typing import Any

from medipersona.personas.offline_text_facts import read_facts, text_of
from medipersona.personas.offline_text_pools import (
    CLOSING,
    GIVEN_FEMALE,
    GIVEN_MALE,
    OPENERS,
    POOLS,
    SURNAMES,
)
from medipersona.providers.base import ProviderError
from medipersona.providers.composers import register_offline_composer, seed_for

DEFAULT_LENGTHS = {"personality": 200, "reason": 200, "behavior": 200, "reviews": 150, "values": 150, "demands": 150}
SECTIONS = tuple(DEFAULT_LENGTHS)

_FORMATTER = string.Formatter()
_FIELDS_CACHE: dict[str, tuple[str, ...]] = {}


def _fields(template: str) -> tuple[str, ...]:
    fields = _FIELDS_CACHE.get(template)
    if fields is None:
        fields = tuple(f for _, f, _, _ in _FORMATTER.parse(template) if f)
        _FIELDS_CACHE[template] = fields
    return fields


def _opener(section: str, facts: dict[str, str], excluded: set[str], rng: random.Random) -> str | None:
    audience = "child" if "child" not in excluded else "self"
    if section == "behavior" and audience == "self" and "kw2" in facts:
        return None  # the keyword lead (「kw1」や「kw2」を検索する) opens the section
    kind = next((k for k in ("symptom", "service", "procedure", "checkup") if k not in excluded), "symptom")
    parts = (OPENERS.get((section, audience, kind)) or OPENERS.get((section, audience, ""))
             or OPENERS.get((section, "any", kind)))
    if parts is None:
        return None
    text = rng.choice(parts[0]) + rng.choice(parts[1])
    try:
        return text.format_map(facts)
    except KeyError:
        return None


_COMPILED: dict[str, list[tuple[str, frozenset[str], tuple[str, ...]]]] = {}


def _compiled(section: str) -> list[tuple[str, frozenset[str], tuple[str, ...]]]:
    compiled = _COMPILED.get(section)
    if compiled is None:
        compiled = [(t, frozenset(tags.split()), _fields(t)) for t, tags in POOLS[section]]
        _COMPILED[section] = compiled
    return compiled


def _applicable(section: str, facts: dict[str, str], excluded: set[str]) -> list[tuple[str, frozenset[str]]]:
    out = []
    for template, tagset, fields in _compiled(section):
        if tagset.isdisjoint(excluded) and all(f in facts for f in fields):
            out.append((template.format_map(facts) if fields else template, tagset))
    return out


def _repeats(sentence: str, chosen: list[str], window: int = 9) -> bool:
    """True when the sentence was chosen already or repeats a 9-character phrase of the chosen ones."""
    if not chosen:
        return False
    text = "".join(chosen)
    if sentence in chosen:
        return True
    return any(sentence[i:i + window] in text for i in range(0, max(1, len(sentence) - window + 1), 2))


def compose_section(section: str, target: int, facts: dict[str, str], excluded: set[str],
                    rng: random.Random) -> str:
    """Sentences in seeded order until the text is within about ±15 % of ``target`` characters."""
    low, high = target * 0.88, target * 1.15
    sentences = _applicable(section, facts, excluded)
    opener = _opener(section, facts, excluded, rng)
    leads = ([opener] if opener else []) + [s for s, tags in sentences if "lead" in tags]
    body = [s for s, tags in sentences if not tags & {"lead", "opener", "short"}]
    shorts = [s for s, tags in sentences if "short" in tags]
    closing = list(CLOSING)
    rng.shuffle(body)
    rng.shuffle(shorts)
    rng.shuffle(closing)
    chosen: list[str] = []
    length = 0
    for group in (leads, body, shorts, closing):
        for sentence in group:
            if length >= low:
                break
            if length + len(sentence) <= high and not _repeats(sentence, chosen):
                chosen.append(sentence)
                length += len(sentence)
    if not chosen:  # a very small target: the shortest sentence, whatever its length
        chosen = [min((s for s, _ in sentences), key=len)]
    # Keep the lead sentences first, the others in the (seeded) order chosen.
    return "".join(chosen)


def pick_name(profile: dict[str, Any], avoid: list[str], rng: random.Random) -> str:
    gender = text_of(profile.get("gender"))
    given: tuple[str, ...]
    if gender in ("男性", "male"):
        given = GIVEN_MALE
    elif gender in ("女性", "female"):
        given = GIVEN_FEMALE
    else:
        given = GIVEN_MALE + GIVEN_FEMALE
    avoid_set = {a.replace(" ", "").replace("\u3000", "") for a in avoid or []}
    for _ in range(50):
        name = f"{rng.choice(SURNAMES)} {rng.choice(given)}"
        if name.replace(" ", "") not in avoid_set:
            return name
    return f"{rng.choice(SURNAMES)} {rng.choice(given)}"


def _lengths(context: dict[str, Any]) -> dict[str, int]:
    lengths = dict(DEFAULT_LENGTHS)
    for key, value in (context.get("section_lengths") or {}).items():
        try:
            lengths[key] = max(20, int(value))
        except (TypeError, ValueError):
            continue
    return lengths


def compose_persona(context: dict[str, Any], seed: int | None) -> dict[str, str]:
    rng = random.Random(seed_for(context, seed, "persona"))
    facts, excluded = read_facts(context, rng)
    lengths = _lengths(context)
    out: dict[str, str] = {}
    if context.get("generate_name"):
        out["name"] = pick_name(context.get("profile") or {}, context.get("avoid_names") or [], rng)
    for section in SECTIONS:
        out[section] = compose_section(section, lengths[section], facts, excluded, rng)
    return out


def compose_section_text(context: dict[str, Any], seed: int | None) -> dict[str, str]:
    section = context.get("section")
    if section not in POOLS:
        raise ProviderError(f"オフライン生成では項目 {section!r} を作成できません。", code="unsupported")
    rng = random.Random(seed_for(context, seed, f"section:{section}"))
    facts, excluded = read_facts(context, rng)
    return {"text": compose_section(section, _lengths(context)[section], facts, excluded, rng)}


# The offline provider finds these through its composer registry (``providers/composers.py``); imported at start
# by ``medipersona.domains``.
register_offline_composer("persona_text", compose_persona)
register_offline_composer("section_text", compose_section_text)
