"""The offline composer, the offline portrait and the simulated provider."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
from pydantic import BaseModel

from medipersona.providers import portrait, registry
from medipersona.providers.base import ImageRequest, ProviderError, TextRequest
from medipersona.providers.calls import CallInfo, image_call, stream_text_call
from medipersona.providers.composers import _COMPOSERS
from medipersona.providers.offline import OFFLINE_LABEL, OfflineProvider, SimulatedProvider
from medipersona.providers.structured import generate_structured


def compose(task, context, seed):
    """What the offline provider answers for ``task``: the composer its domain registered."""
    request = TextRequest(task=task, system="", prompt="", schema={}, context=context, seed=seed)
    return json.loads(OfflineProvider().compose_json(request))


SECTIONS = ("personality", "reason", "behavior", "reviews", "values", "demands")
FORBIDDEN = ("治る", "治ります", "完治", "必ず", "絶対", "最高", "日本一", "No.1", "一番", "最先端", "確実に")


class Persona(BaseModel):
    name: str
    personality: str
    reason: str
    behavior: str
    reviews: str
    values: str
    demands: str


def persona_request(context, seed=7) -> TextRequest:
    return TextRequest(task="persona_text", system="", prompt="", schema=Persona.model_json_schema(),
                       context=context, seed=seed)


def test_same_seed_same_persona_different_seed_different(persona_context):
    a = compose("persona_text", persona_context, 1)
    assert a == compose("persona_text", persona_context, 1)
    others = [compose("persona_text", persona_context, s) for s in range(2, 6)]
    assert any(o != a for o in others)


@pytest.mark.parametrize("seed", range(12))
def test_sections_are_near_their_target_lengths(persona_context, seed):
    lengths = {"personality": 50, "reason": 120, "behavior": 250, "reviews": 400, "values": 80, "demands": 150}
    persona_context["section_lengths"] = lengths
    out = compose("persona_text", persona_context, seed)
    for key in SECTIONS:
        assert out[key].strip(), key
        assert 0.8 * lengths[key] <= len(out[key]) <= 1.2 * lengths[key], (key, len(out[key]), out[key])


@pytest.mark.parametrize("seed", range(8))
def test_the_inputs_are_used(persona_context, seed):
    out = compose("persona_text", persona_context, seed)
    text = "".join(out[k] for k in SECTIONS)
    assert "高血圧" in out["reason"]
    assert "利便性重視型" in text or "通いやすさ" in text
    assert "45歳" in out["personality"]
    assert any(word in text for word in ("会社員", "夫、長女", "ヨガ"))
    used = [k["keyword"] for k in persona_context["keywords"] if k["keyword"] in text]
    assert 2 <= len(used) <= 4, used
    for word in FORBIDDEN:
        assert word not in text, word


def test_different_complaint_and_type_change_the_text(persona_context):
    base = compose("persona_text", persona_context, 3)
    persona_context["chief_complaint"] = "花粉症"
    persona_context["patient_type"] = {"name": "対話重視型", "description": "医師とのコミュニケーションを大切にする。",
                                       "example": "..."}
    other = compose("persona_text", persona_context, 3)
    assert "花粉症" in other["reason"].split("。")[0]  # one of the openers, each naming the complaint
    assert "話" in other["values"] + other["demands"] + other["reviews"]
    assert other != base


def test_child_persona_is_written_about_the_child(persona_context):
    persona_context["profile"].update(age="5歳", gender="男性", occupation="保育園児", family="両親と3人暮らし")
    persona_context["chief_complaint"] = "予防接種"
    out = compose("persona_text", persona_context, 1)
    assert out["personality"].startswith("5歳の男の子")
    assert "保護者" in out["reason"]
    assert "仕事を続けながら" not in "".join(out.values())


def test_name_generation_avoids_names(persona_context):
    names = {compose("persona_text", persona_context, s)["name"] for s in range(20)}
    assert all(" " in n for n in names)
    persona_context["avoid_names"] = sorted(names)[:-1]
    for seed in range(20):
        assert compose("persona_text", persona_context, seed)["name"] not in persona_context["avoid_names"]
    persona_context["generate_name"] = False
    assert "name" not in compose("persona_text", persona_context, 1)


def test_section_text(persona_context):
    persona_context["section"] = "demands"
    out = compose("section_text", persona_context, 5)
    assert set(out) == {"text"} and "高血圧" in out["text"]
    with pytest.raises(ProviderError):
        compose("section_text", {**persona_context, "section": "nope"}, 5)


def test_a_task_without_a_registered_composer_is_a_provider_error(persona_context, monkeypatch):
    monkeypatch.delitem(_COMPOSERS, "timeline_analysis")
    with pytest.raises(ProviderError) as err:
        compose("timeline_analysis", persona_context, 1)
    assert err.value.code == "unsupported"


def test_unknown_task_is_a_provider_error():
    with pytest.raises(ProviderError):
        compose("swot", {}, 1)


async def test_offline_stream_is_labelled_and_chunked(persona_context, make_settings):
    settings = make_settings()
    chunks = [c async for c in stream_text_call(settings, persona_request(persona_context))]
    assert len(chunks) >= 4
    assert json.loads("".join(chunks)) == compose("persona_text", persona_context, 7)
    provider = registry.text_provider(settings)
    assert provider.is_offline and provider.label == OFFLINE_LABEL


async def test_structured_offline_end_to_end(persona_context, make_settings):
    obj, meta = await generate_structured(make_settings(), persona_request(persona_context), Persona)
    assert obj.reason and meta["is_offline"] and meta["label"] == OFFLINE_LABEL and meta["provider"] == "offline"


async def test_simulated_streams_evenly_and_reports_progress(persona_context, make_settings):
    settings = make_settings(text_provider="simulated", simulated_text_seconds=0.6)
    progress = []
    loop = asyncio.get_running_loop()
    started = loop.time()
    obj, meta = await generate_structured(settings, persona_request(persona_context), Persona,
                                          on_progress=progress.append)
    assert loop.time() - started >= 0.55  # the configured latency was applied
    assert meta["provider"] == "simulated" and meta["is_offline"]
    assert 2 <= len(progress) <= SimulatedProvider.chunk_count
    sizes = [len(json.dumps(p, ensure_ascii=False)) for p in progress]
    assert sizes == sorted(sizes)
    assert progress[-1] == obj.model_dump()


async def test_simulated_image_waits(make_settings):
    settings = make_settings(image_provider="simulated", simulated_image_seconds=0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    info = CallInfo()
    result = await image_call(settings, ImageRequest(task="portrait", prompt="", context={"age": 30, "seed": 1}),
                              info=info)
    assert loop.time() - started >= 0.28
    assert result.mime == "image/png" and info.provider == "simulated"


# --- portraits ------------------------------------------------------------------------------------------------

def _image(data: bytes):
    from PIL import Image

    return Image.open(io.BytesIO(data))


async def _portrait(**context) -> bytes:
    return (await OfflineProvider().generate_image(ImageRequest(task="portrait", prompt="", context=context))).data


async def test_portrait_is_deterministic_png(make_settings):
    a = await _portrait(age=45, gender="female", seed=11)
    portrait._cache.clear()
    b = await _portrait(age=45, gender="female", seed=11)
    assert a == b
    img = _image(a)
    assert img.format == "PNG" and img.size == (512, 512)


async def test_portraits_vary_by_age_and_gender():
    by_age = {age: await _portrait(age=age, gender="male", seed=3) for age in (6, 25, 50, 80)}
    assert len(set(by_age.values())) == 4
    assert await _portrait(age=30, gender="male", seed=3) != await _portrait(age=30, gender="female", seed=3)
    groups = {portrait.variant_for({"age": a, "seed": 1}).age_group for a in (6, 25, 50, 80)}
    assert groups == {"child", "young", "middle", "elderly"}


async def test_elderly_hair_is_grey():
    v = portrait.variant_for({"age": 80, "gender": "female", "seed": 2})
    img = _image(portrait.render_portrait(v)).convert("RGB")
    top_hair = img.getpixel((256, 112))
    assert top_hair == portrait.GREY_HAIR[v.hair]


async def test_gender_labels_and_codes_agree():
    assert portrait.variant_for({"age": 40, "gender": "女性", "seed": 9}) == \
        portrait.variant_for({"age": "40歳", "gender": "female", "seed": 9})


async def test_concurrent_portraits_share_renders():
    portrait._cache.clear()
    before = portrait.stats["renders"]
    results = await asyncio.gather(*(_portrait(age=33, gender="female", seed=5) for _ in range(50)))
    assert len(set(results)) == 1
    assert portrait.stats["renders"] - before == 1
    many = await asyncio.gather(*(_portrait(age=20 + s % 60, gender="male", seed=s) for s in range(200)))
    assert all(m.startswith(b"\x89PNG") for m in many)
    assert portrait.stats["renders"] - before <= 4 * 3 * 3 * 4 + 1  # bounded by the variant space
    assert len(portrait._cache) <= portrait.CACHE_SIZE


@pytest.mark.parametrize("case", ["child", "student", "empty"])
@pytest.mark.parametrize("target", [50, 400])
def test_sparse_contexts_still_reach_their_lengths(persona_context, case, target):
    if case == "child":
        persona_context.update(profile={"age": "5歳", "gender": "女性"}, patient_type=None, keywords=[],
                               chief_complaint="予防接種")
    elif case == "student":
        persona_context["profile"].update(age="16歳", occupation="高校生")
    else:
        persona_context.update(profile={}, patient_type=None, keywords=[], extras={})
    persona_context["section_lengths"] = dict.fromkeys(SECTIONS, target)
    for seed in range(10):
        out = compose("persona_text", persona_context, seed)
        for key in SECTIONS:
            assert 0.8 * target <= len(out[key]) <= 1.2 * target, (case, key, len(out[key]))
            for word in FORBIDDEN:
                assert word not in out[key]
