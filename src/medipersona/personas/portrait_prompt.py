"""The portrait's prompt, from the persona's profile: who is drawn (fitting the age: a baby is not drawn as a
woman), their daily setting (occupation, life stage) and the style, in Japanese and English.

    image_request = build_image_request(profile, seed=..., model=...)
"""

from __future__ import annotations

from typing import Any

from medipersona.catalog.labels import age_label
from medipersona.providers.base import ImageRequest


def _portrait_subject(age: int, months: int, gender: str) -> tuple[str, str]:
    """(Japanese, English) words for who is drawn, fitting the age: a baby is not drawn as a woman."""
    girl, boy = gender == "female", gender == "male"
    if age < 2:
        months_total = age * 12 + months
        ja = f"{age_label(age, months)}の赤ちゃん" + ("（女の子）" if girl else "（男の子）" if boy else "")
        en = f"a Japanese baby {'girl' if girl else 'boy' if boy else ''}, {months_total} months old, baby face"
    elif age < 6:
        ja = f"{age}歳の幼児（{'女の子' if girl else '男の子' if boy else '子ども'}）"
        en = f"a Japanese toddler {'girl' if girl else 'boy' if boy else 'child'}, {age} years old, small child"
    elif age < 13:
        ja = f"{age}歳の小学生の{'女の子' if girl else '男の子' if boy else '子ども'}"
        en = f"a Japanese {'girl' if girl else 'boy' if boy else 'child'}, {age} years old, elementary school child"
    elif age < 20:
        ja = f"{age}歳の{'女子' if girl else '男子' if boy else ''}学生"
        en = f"a Japanese teenage {'girl' if girl else 'boy' if boy else 'student'}, {age} years old"
    else:
        ja = f"{age}歳の日本人の{'女性' if girl else '男性' if boy else '人物'}"
        en = f"a Japanese {'woman' if girl else 'man' if boy else 'person'}, {age} years old"
    return ja, en.replace("  ", " ")


def _portrait_setting(age: int, occupation: str) -> tuple[str, str]:
    """A sentence on the person's daily setting (occupation, life stage), kept neutral and without text."""
    if age < 6:
        return "家庭でくつろいでいる雰囲気、やわらかい服装。", "at home, soft casual children's clothes."
    if age < 13:
        return "普段着の子ども服、明るい雰囲気。", "casual children's clothes, cheerful mood."
    if age < 20:
        return "普段着、学生らしい雰囲気。", "casual clothes, student look."
    occ = (occupation or "").split("（", 1)[0]
    if not occ:
        return "普段着。", "casual clothes."
    if any(w in occ for w in ("年金", "無職")):
        return "普段着の落ち着いた服装、退職後の穏やかな暮らしの雰囲気。", "casual neat clothes, retired, calm daily life."
    return (f"職業は{occ}で、その人らしい服装と雰囲気（職場の制服や文字は入れない）。",
            f"dressed as a typical {occ} in daily life would be (no logos, no text).")


def build_image_request(profile: dict[str, Any], *, seed: int, model: str = "") -> ImageRequest:
    """The portrait prompt: who (fitting the age: a baby, a toddler, a pupil ...), the setting (occupation), style."""
    age = int(profile.get("age") or 0)
    months = int(profile.get("age_months") or 0)
    gender = profile.get("gender") or "other"
    who_ja, who_en = _portrait_subject(age, months, gender)
    setting_ja, setting_en = _portrait_setting(age, str(profile.get("occupation") or ""))
    prompt = (
        f"{who_ja}のポートレート。{setting_ja}"
        "自然な表情、やわらかい光、無地の背景、胸から上、写実的なイラスト。文字やロゴは入れない。"
        f"Portrait of {who_en}; {setting_en} "
        "Friendly natural expression, soft light, plain background, head and shoulders, no text."
    )
    return ImageRequest(task="portrait", prompt=prompt, model=model, size="1024x1024", seed=seed,
                        context={"age": age, "gender": gender, "seed": seed})
