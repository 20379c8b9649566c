"""e-Stat API 3.0 client: population by age for one municipality from a configured census table.

``getStatsData`` (JSON) is asked for the table ``estat_stats_data_id`` restricted to the area (``cdArea``) with
its metadata (``metaGetFlg=Y``). The answer is read by class codes, never by position: the area is found in
the ``area`` class, the age classes by their names (e.g. 「0～4歳」「15歳未満」「100歳以上」), every other
dimension (sex, table item, time ...) is pinned to its total / latest class, and the values are summed into the
bands 0-14 / 15-64 / 65-74 / 75+ from a non-overlapping set of age classes that covers every age. A table that
cannot be read this way is reported as not available — a number is never guessed.

The municipality code (5 digits) comes from the user, or from the table's own area list (``getMetaInfo``)
matched by the municipality name in the address.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Any

from medipersona.settings import Settings

log = logging.getLogger("medipersona.competitors")

BANDS = ("0-14", "15-64", "65-74", "75+")
BAND_RANGES = {"0-14": (0, 14), "15-64": (15, 64), "65-74": (65, 74), "75+": (75, None)}
TOTAL_NAMES = ("総数", "総計", "男女計", "計", "合計", "総人口", "人口")
MISSING_MARKS = {"", "***", "x", "X", "…", "...", "-", "－", "‐"}


class EstatError(Exception):
    def __init__(self, message: str, *, code: str = "estat_failed") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def configured(settings: Settings) -> bool:
    return bool(settings.estat_app_id.strip() and settings.estat_stats_data_id.strip())


def as_list(value: Any) -> list[Any]:
    """e-Stat's JSON turns a one-element list into an object: always a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", str(text or "")).replace(" ", "").replace("\u3000", "")


def parse_age_class(name: str) -> tuple[int, int | None] | None:
    """(lowest age, highest age or None for open-ended) of an age class name; None for totals, 再掲 and 不詳."""
    text = _nfkc(name).replace("〜", "~").replace("～", "~").replace("－", "~").replace("-", "~")
    if not text or "再掲" in text or "不詳" in text or text in TOTAL_NAMES or "総数" in text:
        return None
    text = re.sub(r"^\d+_", "", text)  # 「001_0～4歳」
    m = re.fullmatch(r"(\d+)歳?~(\d+)歳", text)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        return (lo, hi) if lo <= hi else None
    m = re.fullmatch(r"(\d+)歳以上", text)
    if m:
        return int(m.group(1)), None
    m = re.fullmatch(r"(\d+)歳未満", text)
    if m:
        return (0, int(m.group(1)) - 1) if int(m.group(1)) > 0 else None
    m = re.fullmatch(r"(\d+)歳", text)
    if m:
        return int(m.group(1)), int(m.group(1))
    return None


def choose_partition(classes: dict[str, tuple[int, int | None]]) -> list[str]:
    """Codes of disjoint age classes covering 0 … open end, the finest first (so 5-year classes win over
    「15歳未満」). Raises EstatError when the classes do not cover every age."""
    chosen: list[str] = []
    age = 0
    for _ in range(200):
        starting = [(code, rng) for code, rng in classes.items() if rng[0] == age]
        if not starting:
            break
        code, (_lo, hi) = min(starting, key=lambda item: (item[1][1] is None, (item[1][1] or 999) - item[1][0]))
        chosen.append(code)
        if hi is None:
            return chosen
        age = hi + 1
    raise EstatError("統計表の年齢区分から全年齢の人口を集計できませんでした（年齢区分が連続していません）。"
                     "年齢別人口を手入力してください。", code="estat_age_classes")


def _band_of(lo: int, hi: int | None) -> str | None:
    for band, (b_lo, b_hi) in BAND_RANGES.items():
        if lo >= b_lo and (b_hi is None or (hi is not None and hi <= b_hi)):
            return band
    return None


def _pick_total(obj: dict[str, Any]) -> str | None:
    classes = as_list(obj.get("CLASS"))
    if len(classes) == 1:
        return classes[0].get("@code")
    for wanted in TOTAL_NAMES:
        for cls in classes:
            if _nfkc(cls.get("@name", "")).split("_")[-1] == wanted:
                return cls.get("@code")
    for cls in classes:
        if "総数" in _nfkc(cls.get("@name", "")):
            return cls.get("@code")
    return None


def _value(text: Any) -> int | None:
    if isinstance(text, (int, float)):
        return int(text)
    text = _nfkc(str(text or "")).replace(",", "")
    if text in MISSING_MARKS:
        return None
    try:
        return int(float(text))
    except ValueError:
        return None


def check_result(root: dict[str, Any]) -> None:
    result = root.get("RESULT") or {}
    try:
        status = int(result.get("STATUS", -1))
    except (TypeError, ValueError):
        status = -1
    message = str(result.get("ERROR_MSG") or "")[:200]
    if status == 0:
        return
    if status == 1:
        raise EstatError("e-Statにこの地域のデータがありませんでした。市区町村コードを確認するか、人口を手入力してください。",
                         code="estat_no_data")
    if status == 100:
        raise EstatError("e-Stat APIのアプリケーションIDが正しくありません。MEDIPERSONA_ESTAT_APP_ID を確認してください。",
                         code="estat_app_id_invalid")
    raise EstatError(f"e-Stat APIがエラーを返しました（STATUS {status}）: {message}", code="estat_error")


def parse_population(data: Any, area_code: str) -> dict[str, Any]:
    """Population by age band of ``area_code`` from a ``getStatsData`` JSON answer (pure function)."""
    root = data.get("GET_STATS_DATA") if isinstance(data, dict) else None
    if not isinstance(root, dict):
        raise EstatError("e-Stat APIの応答を読み取れませんでした。", code="estat_bad_response")
    check_result(root)
    stat = root.get("STATISTICAL_DATA") or {}
    objs = as_list((stat.get("CLASS_INF") or {}).get("CLASS_OBJ"))
    area_obj = next((o for o in objs if o.get("@id") == "area"), None)
    age_obj = next((o for o in objs if o.get("@id") != "area" and "年齢" in str(o.get("@name", ""))), None)
    if area_obj is None or age_obj is None:
        raise EstatError("設定された統計表に地域または年齢の分類がありません。MEDIPERSONA_ESTAT_STATS_DATA_ID を確認して"
                         "ください。", code="estat_table_unsuitable")
    area = next((c for c in as_list(area_obj.get("CLASS")) if c.get("@code") == area_code), None)
    if area is None:
        raise EstatError(f"統計表に市区町村コード {area_code} の地域がありません。", code="estat_area_missing")
    age_ranges: dict[str, tuple[int, int | None]] = {}
    for c in as_list(age_obj.get("CLASS")):
        code, rng = c.get("@code"), parse_age_class(c.get("@name", ""))
        if code and rng is not None:
            age_ranges[code] = rng
    partition = choose_partition(age_ranges)
    total_age_code = next((c.get("@code") for c in as_list(age_obj.get("CLASS"))
                           if _nfkc(c.get("@name", "")).split("_")[-1] in ("総数", "総計")), None)
    pinned: dict[str, str] = {}
    time_label = ""
    for obj in objs:
        obj_id = obj.get("@id")
        if obj in (area_obj, age_obj) or not obj_id:
            continue
        classes = as_list(obj.get("CLASS"))
        if obj_id == "time":
            latest = max(classes, key=lambda c: str(c.get("@code", "")), default=None)
            if latest is not None:
                pinned[obj_id] = latest.get("@code")
                time_label = str(latest.get("@name") or "")
            continue
        if obj_id == "tab":
            people = [c for c in classes if c.get("@unit") == "人" or "人口" in str(c.get("@name", ""))]
            if len(people) >= 1:
                pinned[obj_id] = people[0].get("@code")
                continue
        code = _pick_total(obj)
        if code is None:
            raise EstatError(f"統計表の分類「{obj.get('@name', obj_id)}」の合計が見つからないため、人口を集計できません。",
                             code="estat_table_unsuitable")
        pinned[obj_id] = code
    by_age: dict[str, Any] = {}
    for value in as_list((stat.get("DATA_INF") or {}).get("VALUE")):
        if not isinstance(value, dict) or value.get("@area") != area_code:
            continue
        if any(value.get(f"@{dim}") != code for dim, code in pinned.items()):
            continue
        by_age[str(value.get(f"@{age_obj['@id']}"))] = value.get("$")
    bands = dict.fromkeys(BANDS, 0)
    for code in partition:
        lo, hi = age_ranges[code]
        band = _band_of(lo, hi)
        if band is None:
            raise EstatError("統計表の年齢区分が 0-14 / 15-64 / 65-74 / 75+ の区切りに合いません。年齢別人口を手入力して"
                             "ください。", code="estat_age_classes")
        number = _value(by_age.get(code))
        if number is None:
            raise EstatError("統計表に値のない年齢区分があるため、人口を集計できません（秘匿・欠損）。年齢別人口を手入力して"
                             "ください。", code="estat_value_missing")
        bands[band] += number
    summed = sum(bands.values())
    total = _value(by_age.get(total_age_code)) if total_age_code else None
    if summed <= 0:
        raise EstatError("e-Statから取得した人口が0でした。市区町村コードを確認してください。", code="estat_no_data")
    area_name = re.sub(r"^\d+_", "", str(area.get("@name") or ""))
    table = stat.get("TABLE_INF") or {}
    title = table.get("TITLE")
    title = title.get("$") if isinstance(title, dict) else title
    return {
        "status": "estat",
        "area_code": area_code,
        "area_name": area_name,
        "total": total if total is not None and total >= summed else summed,
        "age_bands": bands,
        "time": time_label,
        "source": "estat",
        "source_detail": "e-Stat（政府統計の総合窓口）" + (f"「{title}」" if title else "") + (f" {time_label}" if time_label else ""),
        "unknown_age": (total - summed) if total is not None and total > summed else 0,
    }


def match_area(meta: Any, address: str) -> tuple[str, str] | None:
    """(code, name) of the municipality named in ``address``, from a ``getMetaInfo`` answer's area class."""
    root = meta.get("GET_META_INFO") if isinstance(meta, dict) else None
    if not isinstance(root, dict):
        raise EstatError("e-Stat APIの応答を読み取れませんでした。", code="estat_bad_response")
    check_result(root)
    objs = as_list(((root.get("METADATA_INF") or {}).get("CLASS_INF") or {}).get("CLASS_OBJ"))
    area_obj = next((o for o in objs if o.get("@id") == "area"), None)
    if area_obj is None:
        return None
    from medipersona.competitors.service import prefecture_of

    text = _nfkc(address)
    pref = prefecture_of(address)
    if pref is not None:
        text = text[text.find(pref[1]) + len(pref[1]):]
    best: tuple[int, str, str] | None = None
    for cls in as_list(area_obj.get("CLASS")):
        code = str(cls.get("@code") or "")
        if not re.fullmatch(r"\d{5}", code) or code.endswith("000"):
            continue  # prefectures / the whole country
        if pref is not None and int(code[:2]) != pref[0]:
            continue
        name = re.sub(r"^\d+_", "", _nfkc(cls.get("@name", "")))
        if pref is not None and name.startswith(pref[1]):
            name = name[len(pref[1]):]
        if name and text.startswith(name) and (best is None or len(name) > best[0]):
            best = (len(name), code, re.sub(r"^\d+_", "", str(cls.get("@name"))))
    return (best[1], best[2]) if best else None


async def _get(settings: Settings, endpoint: str, params: dict[str, str]) -> dict[str, Any]:
    import httpx

    from medipersona.competitors.http import http_client

    url = settings.estat_base_url.rstrip("/") + "/" + endpoint
    try:
        response = await http_client().get(url, params={"appId": settings.estat_app_id.strip(), "lang": "J", **params},
                                           timeout=httpx.Timeout(settings.places_timeout_seconds))
    except httpx.TimeoutException:
        raise EstatError("e-Stat APIが時間内に応答しませんでした。", code="estat_timeout") from None
    except httpx.HTTPError:
        raise EstatError("e-Stat APIに接続できませんでした。", code="estat_unreachable") from None
    if response.status_code != 200:
        raise EstatError(f"e-Stat APIが応答しませんでした（{response.status_code}）。", code="estat_http_error")
    try:
        data = response.json()
    except ValueError:
        raise EstatError("e-Stat APIの応答を読み取れませんでした。", code="estat_bad_response") from None
    if not isinstance(data, dict):
        raise EstatError("e-Stat APIの応答を読み取れませんでした。", code="estat_bad_response")
    return data


async def resolve_area_code(settings: Settings, address: str) -> tuple[str, str] | None:
    meta = await _get(settings, "getMetaInfo", {"statsDataId": settings.estat_stats_data_id.strip()})
    return match_area(meta, address)


async def fetch_population(settings: Settings, area_code: str) -> dict[str, Any]:
    data = await _get(settings, "getStatsData", {"statsDataId": settings.estat_stats_data_id.strip(),
                                                 "cdArea": area_code, "metaGetFlg": "Y", "cntGetFlg": "N",
                                                 "sectionHeaderFlg": "1"})
    return parse_population(data, area_code)
