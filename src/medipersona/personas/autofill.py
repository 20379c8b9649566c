"""Server-side auto-fill of empty profile fields and fixed extras, mutually consistent and deterministic.

    profile, extras = autofill(profile, extras, department_id="internal_medicine", seed=42)

Rules (property-tested in tests/personas/test_autofill.py):
- Given values are kept as they are; only empty fields are filled.
- Age comes from what is known: the occupation (学生 → 18–22, 年金生活 → 65+ ...), else the department
  (小児科 → 0–12, 矯正歯科 → 8–40 ...), else an adult range. A child under 6 is 未就学児; 6–18 is 学生.
- Occupation fits the age (and the income when only the income was given); a child or student has no income
  (収入なし), a retiree's income is a pension band (年収100〜400万円), a homemaker has no income of their own.
- Family fits age and gender (spouse 妻/夫/パートナー; children at least 20 years younger; grown children
  live on their own); a homemaker is married.
- Life events fit age and family (no 第一子誕生 without a small child, no 定年退職 before 60 ...).
- Extras (座右の銘 ... キャッチコピー) are drawn from pools by age band.
- Names are Japanese, chosen by gender and generation (birth decade), avoiding ``avoid_names``.
- Deterministic: each field draws from its own ``random.Random`` seeded by (seed, field), so the same inputs and
  seed always give the same persona.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from medipersona.catalog.labels import EXTRA_FIELDS, INCOME_BANDS, MAX_AGE

INCOME_ORDER: tuple[str, ...] = tuple(INCOME_BANDS)
PENSION_INCOMES = ("100-200", "200-300", "300-400")
NO_INCOME = "none"


def _band_range(lo: str, hi: str) -> tuple[str, ...]:
    i, j = INCOME_ORDER.index(lo), INCOME_ORDER.index(hi)
    return INCOME_ORDER[i:j + 1]


def _rng(seed: int, name: str) -> random.Random:
    return random.Random(zlib.crc32(f"{seed}:{name}".encode()))


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# --------------------------------------------------------------------------------------------- occupations
@dataclass(frozen=True)
class Occupation:
    label: str
    min_age: int
    max_age: int
    incomes: tuple[str, ...]
    kind: str = "work"  # work | parttime | homemaker | retired | student | preschool
    genders: tuple[str, ...] = ("male", "female", "other")


OCCUPATIONS: tuple[Occupation, ...] = (
    Occupation("会社員（事務職）", 22, 64, _band_range("300-400", "500-600")),
    Occupation("会社員（営業職）", 22, 64, _band_range("400-500", "800-1000")),
    Occupation("会社員（技術職）", 22, 64, _band_range("400-500", "800-1000")),
    Occupation("会社員（管理職）", 35, 64, _band_range("700-800", "1000-1500")),
    Occupation("公務員", 22, 64, _band_range("400-500", "800-1000")),
    Occupation("看護師", 22, 64, _band_range("400-500", "600-700")),
    Occupation("小学校教員", 23, 64, _band_range("400-500", "700-800")),
    Occupation("介護職員", 20, 65, _band_range("200-300", "400-500")),
    Occupation("販売スタッフ", 20, 60, _band_range("200-300", "300-400")),
    Occupation("飲食店経営（自営業）", 28, 75, _band_range("300-400", "700-800")),
    Occupation("フリーランス（Webデザイナー）", 23, 60, _band_range("200-300", "600-700")),
    Occupation("ITエンジニア", 22, 60, _band_range("500-600", "1000-1500")),
    Occupation("医療事務", 20, 64, _band_range("200-300", "400-500")),
    Occupation("建設作業員", 20, 64, _band_range("300-400", "500-600")),
    Occupation("会社役員", 40, 75, _band_range("1000-1500", "gte2000")),
    Occupation("パート（スーパー勤務）", 20, 72, ("lt100", "100-200"), "parttime"),
    Occupation("アルバイト（飲食店）", 18, 35, ("lt100", "100-200"), "parttime"),
    Occupation("専業主婦", 22, 80, (NO_INCOME,), "homemaker", ("female",)),
    Occupation("専業主夫", 25, 80, (NO_INCOME,), "homemaker", ("male",)),
    Occupation("嘱託社員（再雇用）", 60, 70, _band_range("200-300", "400-500")),
    Occupation("無職（年金生活）", 65, MAX_AGE, PENSION_INCOMES, "retired"),
    Occupation("無職（家族と同居）", 60, MAX_AGE, (NO_INCOME, "lt100"), "unemployed"),
    Occupation("シルバー人材センター会員（年金生活）", 65, 80, PENSION_INCOMES, "retired"),
)
PRESCHOOL = "未就学児"
STUDENT_LABELS = (
    (6, 12, "学生（小学生）"),
    (13, 15, "学生（中学生）"),
    (16, 18, "学生（高校生）"),
    (19, 22, "学生（大学生）"),
)

# Age brackets by what an occupation text says (first match wins), for a given occupation and no age.
_OCCUPATION_AGES: tuple[tuple[tuple[str, ...], int, int], ...] = (
    (("未就学", "園児", "乳児", "幼児"), 1, 5),
    (("小学",), 6, 12),
    (("中学",), 13, 15),
    (("高校",), 16, 18),
    (("大学院",), 22, 26),
    (("大学", "専門学校", "短大", "学生"), 18, 22),
    (("年金", "定年", "退職"), 65, 85),
    (("役員", "管理職", "部長", "課長"), 40, 62),
    (("嘱託", "再雇用"), 60, 68),
)

DEPARTMENT_AGES: dict[str, tuple[int, int]] = {
    "pediatrics": (0, 12),
    "pediatric_dentistry": (1, 12),
    "orthodontics": (8, 40),
    "cosmetic_surgery": (20, 55),
    "cosmetic_dentistry": (20, 60),
    "gynecology": (18, 70),
}
DEFAULT_AGES = (18, 85)
FEMALE_DEPARTMENTS = {"gynecology"}


def classify_occupation(text: str) -> str:
    """preschool | student | retired | homemaker | unemployed | parttime | executive | work (for free text)."""
    t = text or ""
    if any(w in t for w in ("未就学", "園児", "乳児", "幼児")):
        return "preschool"
    if any(w in t for w in ("学生", "生徒", "小学", "中学", "高校", "大学", "専門学校", "短大")) and "教" not in t:
        return "student"
    if any(w in t for w in ("年金", "定年", "退職", "隠居")):
        return "retired"
    if any(w in t for w in ("主婦", "主夫", "家事")):
        return "homemaker"
    if "無職" in t:
        return "unemployed"
    if any(w in t for w in ("パート", "アルバイト")):
        return "parttime"
    if any(w in t for w in ("医師", "役員", "経営者", "社長")):
        return "executive"
    return "work"


def child_occupation(age: int) -> str:
    if age < 6:
        return PRESCHOOL
    for low, high, label in STUDENT_LABELS:
        if low <= age <= high:
            return label
    return "学生（大学生）"


def is_minor_occupation(text: str) -> bool:
    return classify_occupation(text) in ("preschool", "student")


def incomes_for_age(age: int) -> tuple[str, ...]:
    """Plausible bands for a working adult of this age (used when the occupation is free text)."""
    if age < 18:
        return (NO_INCOME,)
    if age < 25:
        return _band_range("lt100", "300-400")
    if age < 35:
        return _band_range("200-300", "600-700")
    if age < 45:
        return _band_range("300-400", "800-1000")
    if age < 60:
        return _band_range("400-500", "1000-1500")
    if age < 65:
        return _band_range("200-300", "700-800")
    return _band_range("100-200", "400-500")


def incomes_for_occupation(text: str, age: int) -> tuple[str, ...]:
    for occ in OCCUPATIONS:
        if occ.label == text:
            return occ.incomes
    kind = classify_occupation(text)
    if kind == "preschool" or (kind == "student" and age < 16):
        return (NO_INCOME,)
    if kind == "student":
        return (NO_INCOME, "lt100")
    if kind == "retired":
        return PENSION_INCOMES
    if kind == "homemaker":
        return (NO_INCOME,)
    if kind == "unemployed":
        return (NO_INCOME, "lt100")
    if kind == "parttime":
        return ("lt100", "100-200", "200-300")
    if kind == "executive":
        return _band_range("800-1000", "gte2000")
    return incomes_for_age(age)


# ----------------------------------------------------------------------------------------------- places
PREFECTURE_CAPITALS: dict[str, tuple[str, ...]] = {
    "北海道": ("札幌市", "旭川市", "函館市"), "青森県": ("青森市", "八戸市"), "岩手県": ("盛岡市",),
    "宮城県": ("仙台市", "石巻市"), "秋田県": ("秋田市",), "山形県": ("山形市",), "福島県": ("福島市", "郡山市"),
    "茨城県": ("水戸市", "つくば市"), "栃木県": ("宇都宮市",), "群馬県": ("前橋市", "高崎市"),
    "埼玉県": ("さいたま市", "川口市", "所沢市", "川越市"), "千葉県": ("千葉市", "船橋市", "柏市", "市川市"),
    "東京都": ("世田谷区", "練馬区", "大田区", "杉並区", "八王子市", "町田市", "江東区"),
    "神奈川県": ("横浜市", "川崎市", "相模原市", "藤沢市"), "新潟県": ("新潟市",), "富山県": ("富山市",),
    "石川県": ("金沢市",), "福井県": ("福井市",), "山梨県": ("甲府市",), "長野県": ("長野市", "松本市"),
    "岐阜県": ("岐阜市",), "静岡県": ("静岡市", "浜松市"), "愛知県": ("名古屋市", "豊田市", "岡崎市"),
    "三重県": ("津市", "四日市市"), "滋賀県": ("大津市",), "京都府": ("京都市", "宇治市"),
    "大阪府": ("大阪市", "堺市", "豊中市", "吹田市"), "兵庫県": ("神戸市", "姫路市", "西宮市"),
    "奈良県": ("奈良市",), "和歌山県": ("和歌山市",), "鳥取県": ("鳥取市",), "島根県": ("松江市",),
    "岡山県": ("岡山市", "倉敷市"), "広島県": ("広島市", "福山市"), "山口県": ("山口市", "下関市"),
    "徳島県": ("徳島市",), "香川県": ("高松市",), "愛媛県": ("松山市",), "高知県": ("高知市",),
    "福岡県": ("福岡市", "北九州市", "久留米市"), "佐賀県": ("佐賀市",), "長崎県": ("長崎市", "佐世保市"),
    "熊本県": ("熊本市",), "大分県": ("大分市",), "宮崎県": ("宮崎市",), "鹿児島県": ("鹿児島市",),
    "沖縄県": ("那覇市", "沖縄市"),
}
# Rough population weights: big prefectures are picked more often.
_PREFECTURE_WEIGHTS = {"東京都": 14, "神奈川県": 9, "大阪府": 9, "愛知県": 7, "埼玉県": 7, "千葉県": 6,
                       "兵庫県": 5, "北海道": 5, "福岡県": 5, "静岡県": 3, "広島県": 3, "京都府": 3, "宮城県": 2}


# ----------------------------------------------------------------------------------------------- names
SURNAMES = ("佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田", "佐々木",
            "山口", "松本", "井上", "木村", "林", "斎藤", "清水", "山崎", "森", "池田", "橋本", "阿部", "石川",
            "前田", "藤田", "小川", "岡田", "長谷川", "村上", "近藤", "石井", "坂本", "遠藤", "青木", "藤井")
# (born from year, names) newest first
GIVEN_NAMES: dict[str, tuple[tuple[int, tuple[str, ...]], ...]] = {
    "male": (
        (2010, ("蓮", "陽翔", "湊", "蒼", "樹", "悠真", "朝陽", "大和", "碧", "律")),
        (1990, ("翔太", "大翔", "拓海", "颯太", "健太", "大輝", "翔", "優斗", "陸", "海斗")),
        (1970, ("大輔", "拓也", "直樹", "健太郎", "剛", "達也", "和也", "誠", "学", "哲也")),
        (1950, ("浩", "修", "隆", "明", "和彦", "健一", "浩二", "正樹", "茂樹", "博之")),
        (0, ("清", "茂", "博", "実", "勇", "正", "進", "弘", "勝", "三郎")),
    ),
    "female": (
        (2010, ("陽葵", "凛", "結菜", "芽依", "紬", "咲良", "澪", "結愛", "葵", "杏")),
        (1990, ("美咲", "さくら", "陽菜", "結衣", "七海", "優奈", "彩花", "萌", "遥", "真央")),
        (1970, ("愛", "彩", "麻衣", "美穂", "恵", "香織", "智美", "裕美", "舞", "沙織")),
        (1950, ("恵子", "由美子", "真由美", "久美子", "明美", "直美", "裕子", "智子", "陽子", "典子")),
        (0, ("和子", "幸子", "節子", "洋子", "久子", "京子", "美智子", "悦子", "信子", "文子")),
    ),
    "other": (
        (1990, ("遥", "翼", "光", "渚", "葵", "歩")),
        (0, ("薫", "真", "晶", "希", "優", "忍")),
    ),
}


def given_names_for(gender: str, birth_year: int) -> tuple[str, ...]:
    table = GIVEN_NAMES.get(gender) or GIVEN_NAMES["other"]
    for since, names in table:
        if birth_year >= since:
            return names
    return table[-1][1]


def pick_name(rng: random.Random, gender: str, age: int, avoid: set[str], reference_year: int) -> str:
    birth_year = reference_year - age
    givens = given_names_for(gender, birth_year)
    for _ in range(40):
        name = f"{rng.choice(SURNAMES)} {rng.choice(givens)}"
        if name not in avoid and name.replace(" ", "") not in avoid:
            return name
    return f"{rng.choice(SURNAMES)} {rng.choice(givens)}"


# ----------------------------------------------------------------------------------------------- family
@dataclass
class Family:
    text: str
    married: bool = False
    children: list[int] = field(default_factory=list)  # ages
    lives_with_parents: bool = False
    household: int = 1


def _spouse(gender: str) -> str:
    return {"male": "妻", "female": "夫"}.get(gender, "パートナー")


def _child_word(rng: random.Random, index: int, sexes: list[str]) -> str:
    sex = rng.choice(("男", "女"))
    nth = sum(1 for s in sexes if s == sex)
    sexes.append(sex)
    prefix = ("長", "次", "三")[min(nth, 2)]
    return prefix + ("男" if sex == "男" else "女")


def make_family(rng: random.Random, age: int, gender: str, occupation_kind: str) -> Family:
    if age < 18:
        father, mother = age + rng.randint(27, 38), age + rng.randint(25, 36)
        members = [f"父（{father}歳）", f"母（{mother}歳）"]
        if rng.random() < 0.55:
            diff = rng.randint(1, 5)
            if rng.random() < 0.5 and age - diff >= 0:
                members.append(f"{rng.choice(('弟', '妹'))}（{age - diff}歳）")
            else:
                members.append(f"{rng.choice(('兄', '姉'))}（{age + diff}歳）")
        return Family("、".join(members) + f"と{len(members) + 1}人暮らし", lives_with_parents=True,
                      household=len(members) + 1)
    if age <= 22 and occupation_kind in ("student", "work", "parttime"):
        if rng.random() < 0.5:
            return Family("一人暮らし（実家は県外）")
        return Family("両親と3人暮らし", lives_with_parents=True, household=3)
    married_p = {True: 0.45, False: 0.75}[age < 35] if age < 60 else 0.7
    married = occupation_kind == "homemaker" or rng.random() < married_p
    spouse = _spouse(gender)
    if not married:
        if age >= 60 and rng.random() < 0.5:
            return Family("一人暮らし（配偶者とは死別、子どもは独立）", children=[age - rng.randint(25, 35)])
        if 23 <= age <= 40 and rng.random() < 0.25:
            return Family("両親と3人暮らし", lives_with_parents=True, household=3)
        return Family("一人暮らし")
    max_child_age = age - 22
    has_children = max_child_age >= 0 and rng.random() < (0.5 if age < 35 else 0.8)
    children: list[int] = []
    if has_children:
        count = rng.choice((1, 1, 2, 2, 3)) if age >= 30 else 1
        # children were born when this person was 22-42
        eldest = rng.randint(max(0, age - 42), max_child_age)
        children = sorted({max(0, eldest - i * rng.randint(1, 4)) for i in range(count)}, reverse=True)
    at_home = [c for c in children if c < 23]
    sexes: list[str] = []
    words = [f"{_child_word(rng, i, sexes)}（{c}歳）" for i, c in enumerate(at_home)]
    household = 2 + len(at_home)
    if at_home:
        text = f"{spouse}、" + "、".join(words) + f"と{household}人暮らし"
    else:
        text = f"{spouse}と2人暮らし"
        if children:
            text += "（子どもは独立）"
    return Family(text, married=True, children=children, household=household)


# ----------------------------------------------------------------------------------------------- events
def life_event_candidates(age: int, family: Family, occupation_kind: str) -> list[str]:
    small = [c for c in family.children if c <= 1]
    school_starter = [c for c in family.children if 6 <= c <= 7]
    grown = [c for c in family.children if c >= 22]
    out: list[str] = []
    if age < 6:
        out += ["昨年保育園に入園した", "今年から幼稚園に通い始めた", "最近よく歩けるようになった"]
    elif age < 13:
        out += ["小学校に入学した", "新しい習い事（スイミング）を始めた", "クラス替えで新しい友だちができた"]
    elif age < 19:
        out += ["高校受験を控えている", "部活動で大会に出場した", "大学受験に向けて塾に通い始めた"]
    elif age < 23 and occupation_kind == "student":
        out += ["大学に入学し生活リズムが変わった", "就職活動が始まった", "アルバイトを始めた"]
    else:
        if age < 40:
            out += ["転職して通勤時間が長くなった", "引っ越しをした"]
        if family.married and age < 40:
            out += ["昨年結婚した"]
        if small:
            out += ["第一子が誕生した" if len(family.children) == 1 else "第二子が誕生した", "育児休業から職場復帰した"]
        if school_starter:
            out += ["子どもが小学校に入学した"]
        if 30 <= age < 60 and occupation_kind == "work":
            out += ["管理職に昇進した", "仕事の責任が増えて残業が多くなった"]
        if 35 <= age < 60:
            out += ["マイホームを購入した", "健康診断で再検査を勧められた"]
        if 45 <= age < 70:
            out += ["親の介護が始まった"]
        if grown:
            out += ["子どもが就職して独立した"]
        if grown and age >= 50:
            out += ["孫が生まれた"]
        if age >= 60 and occupation_kind in ("retired", "work", "homemaker", "parttime"):
            out += ["定年退職した"] if occupation_kind == "retired" else ["再雇用で働き方が変わった"]
        if age >= 65:
            out += ["地域のサークル活動に参加し始めた", "運転免許の返納を考え始めた"]
        if not out:
            out += ["生活習慣を見直し始めた"]
    return out


# ----------------------------------------------------------------------------------------------- extras
def age_group(age: int) -> str:
    if age < 13:
        return "child"
    if age < 20:
        return "teen"
    if age < 35:
        return "young"
    if age < 50:
        return "middle"
    if age < 65:
        return "mature"
    return "senior"


HOBBIES: dict[str, tuple[str, ...]] = {
    "baby": ("おもちゃで遊ぶこと", "絵本を読んでもらうこと", "お散歩", "音の出るおもちゃ"),
    "child": ("お絵かき", "ブロック遊び", "公園で遊ぶこと", "アニメを見ること", "サッカー", "ピアノ"),
    "teen": ("ゲーム", "部活動（バスケットボール）", "音楽を聴くこと", "動画編集", "ダンス", "読書"),
    "young": ("カフェ巡り", "ヨガ", "旅行", "筋トレ", "ライブ観戦", "料理", "キャンプ"),
    "middle": ("ランニング", "家庭菜園", "映画鑑賞", "ゴルフ", "料理", "子どもとのキャンプ", "読書"),
    "mature": ("ゴルフ", "ウォーキング", "園芸", "温泉巡り", "囲碁", "写真撮影", "登山"),
    "senior": ("園芸", "グラウンドゴルフ", "俳句", "散歩", "カラオケ", "孫と過ごすこと", "旅行"),
}
EXTRA_POOLS: dict[str, dict[str, tuple[str, ...]]] = {
    "motto": {
        "child": ("なんでもチャレンジ", "ともだちをたいせつに", "げんきいっぱい"),
        "teen": ("努力は裏切らない", "継続は力なり", "楽しんだもの勝ち"),
        "young": ("継続は力なり", "やらずに後悔するよりやって後悔", "一期一会", "日々是好日"),
        "middle": ("継続は力なり", "健康第一", "急がば回れ", "家族が一番"),
        "mature": ("健康第一", "人間万事塞翁が馬", "一日一善", "石の上にも三年"),
        "senior": ("笑う門には福来る", "健康第一", "一日一善", "足るを知る"),
    },
    "concerns": {
        "child": ("保育園・学校で風邪をもらいやすい", "夜なかなか寝つけない", "好き嫌いが多い"),
        "teen": ("受験勉強と部活の両立", "肌荒れが気になる", "スマホの見すぎで目が疲れる"),
        "young": ("仕事が忙しく生活リズムが乱れがち", "将来のキャリアとお金", "運動不足と体型の変化"),
        "middle": ("仕事と家庭の両立", "疲れが抜けにくくなった", "子どもの教育費", "健康診断の数値"),
        "mature": ("健康診断の数値が気になる", "老後の資金", "親の介護", "体力の衰え"),
        "senior": ("足腰の衰え", "物忘れが増えた", "持病の管理", "一人での通院の不安"),
    },
    "favorite_person": {
        "child": ("アンパンマン", "絵本の読み聞かせをしてくれる祖母", "戦隊ヒーロー"),
        "teen": ("部活動のコーチ", "好きなアーティスト", "大谷翔平選手"),
        "young": ("大谷翔平選手", "職場の先輩", "好きな俳優"),
        "middle": ("イチロー選手", "松下幸之助", "自分の両親"),
        "mature": ("野口英世", "松下幸之助", "長く通っているかかりつけ医"),
        "senior": ("吉永小百合", "美空ひばり", "坂本龍馬"),
    },
    "media": {
        "child": ("YouTube（子ども向けチャンネル）", "Eテレ", "絵本"),
        "teen": ("TikTok", "YouTube", "Instagram"),
        "young": ("Instagram", "TikTok", "YouTube", "X（旧Twitter）"),
        "middle": ("Instagram", "YouTube", "LINE", "ニュースアプリ"),
        "mature": ("LINE", "Yahoo!ニュース", "テレビ", "YouTube"),
        "senior": ("テレビ（NHK）", "新聞", "LINE", "ラジオ"),
    },
    "personality_keywords": {
        "child": ("元気、好奇心旺盛、人見知り", "甘えん坊、素直、よく笑う", "活発、負けず嫌い"),
        "teen": ("真面目、繊細、友だち思い", "マイペース、好奇心旺盛", "明るい、負けず嫌い"),
        "young": ("慎重、情報収集好き、合理的", "社交的、行動的、楽観的", "几帳面、心配性、努力家"),
        "middle": ("責任感が強い、慎重、家族思い", "合理的、せっかち、面倒見が良い", "穏やか、心配性、計画的"),
        "mature": ("堅実、慎重、義理堅い", "几帳面、頑固、面倒見が良い", "穏やか、忍耐強い"),
        "senior": ("穏やか、慎重、世話好き", "几帳面、昔気質、話好き", "前向き、人付き合いを大切にする"),
    },
    "health_actions": {
        "child": ("保護者と一緒に毎日歯みがきの仕上げをしている", "手洗い・うがいを習慣にしている"),
        "teen": ("睡眠時間を確保するようにしている", "部活前のストレッチを欠かさない"),
        "young": ("ジムに通い始めた", "スマートウォッチで睡眠を記録している", "サプリメントを飲み始めた"),
        "middle": ("健康診断の結果を見て間食を減らした", "ウォーキングを始めた", "人間ドックを受けた"),
        "mature": ("減塩を心がけている", "毎朝血圧を測っている", "ウォーキングを日課にしている"),
        "senior": ("毎朝ラジオ体操をしている", "かかりつけ医で定期検診を受けている", "薬の飲み忘れ防止にピルケースを使っている"),
    },
    "holiday": {
        "child": ("家族と公園や児童館に出かける", "祖父母の家に遊びに行く"),
        "teen": ("部活動や友だちと買い物", "家でゲームや動画を楽しむ"),
        "young": ("友人とカフェや買い物に出かける", "家でのんびり動画を見る", "日帰り旅行に出かける"),
        "middle": ("子どもの習い事の送迎と家族での外食", "ショッピングモールで買い物", "自宅でゆっくり休む"),
        "mature": ("夫婦で温泉や旅行に出かける", "ゴルフや趣味の集まりに参加", "庭いじりをして過ごす"),
        "senior": ("近所を散歩し、地域のサークルに参加する", "孫と過ごす", "家で園芸やテレビを楽しむ"),
    },
    "catchphrase": {
        "child": ("元気いっぱいの{hobby}好き", "好奇心のかたまり"),
        "teen": ("{hobby}に夢中な頑張り屋", "悩み多き十代"),
        "young": ("忙しくても自分らしさを大切にする{occupation}", "情報を集めてから動く慎重派"),
        "middle": ("家族と仕事を両立する{occupation}", "忙しさの中で健康を気にし始めた働き盛り"),
        "mature": ("健康を意識し始めたベテラン{occupation}", "これからの人生を見据える堅実派"),
        "senior": ("元気に毎日を楽しむ{hobby}好き", "健康寿命を大切にする人生の達人"),
    },
}


# ----------------------------------------------------------------------------------------------- main
def _age_range(department_id: str | None, occupation: str) -> tuple[int, int]:
    if occupation:
        for words, low, high in _OCCUPATION_AGES:
            if any(w in occupation for w in words):
                return low, high
        for occ in OCCUPATIONS:
            if occ.label == occupation:
                return occ.min_age, min(occ.max_age, 80)
        return 22, 64
    return DEPARTMENT_AGES.get(department_id or "", DEFAULT_AGES)


def _fits(occ: Occupation, age: int, gender: str, income: str | None) -> bool:
    return (occ.min_age <= age <= occ.max_age and gender in occ.genders
            and (income is None or income in occ.incomes))


def choose_occupation(rng: random.Random, age: int, gender: str, income: str | None) -> str:
    if age < 19 or (age <= 22 and income in (None, NO_INCOME) and rng.random() < 0.7):
        return child_occupation(age)
    options = [o for o in OCCUPATIONS if _fits(o, age, gender, income)]
    if not options and income is not None:
        # e.g. a high income at 80: someone still running a company rather than a pensioner
        options = [o for o in OCCUPATIONS if income in o.incomes and gender in o.genders and o.min_age <= age]
    if not options:
        options = [o for o in OCCUPATIONS if _fits(o, age, gender, None)]
    if not options:  # pragma: no cover - every age >= 19 has one
        return "会社員（事務職）"
    if age >= 65:
        # Most people over 65 live on a pension; keep some working.
        retired = [o for o in options if o.kind == "retired"]
        if retired and rng.random() < 0.7:
            options = retired
    return rng.choice(options).label


def autofill(
    profile: dict[str, Any] | None,
    extras: dict[str, Any] | None = None,
    *,
    department_id: str | None = None,
    seed: int = 0,
    avoid_names: list[str] | tuple[str, ...] | set[str] = (),
    reference_year: int | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Return (profile, extras) with every empty field filled consistently with the given ones."""
    p = dict(profile or {})
    ex = {k: v for k, v in (extras or {}).items() if not _empty(v)}
    year = reference_year or datetime.now(UTC).year

    gender = p.get("gender")
    if _empty(gender):
        r = _rng(seed, "gender")
        if department_id in FEMALE_DEPARTMENTS:
            gender = "female"
        elif department_id == "urology":
            gender = "male" if r.random() < 0.7 else "female"
        else:
            gender = r.choice(("male", "female"))
    p["gender"] = gender

    occupation_given = "" if _empty(p.get("occupation")) else str(p["occupation"]).strip()
    income_given = None if _empty(p.get("income")) else str(p["income"])

    age = p.get("age")
    if age is None or age == "":
        r = _rng(seed, "age")
        low, high = _age_range(department_id, occupation_given)
        if income_given and income_given != NO_INCOME and not occupation_given:
            # someone with an income of their own is an adult with an occupation paying that much
            fitting = [o for o in OCCUPATIONS if income_given in o.incomes and gender in o.genders]
            if fitting:
                f_low, f_high = min(o.min_age for o in fitting), max(o.max_age for o in fitting)
                low, high = max(low, f_low), min(high, f_high)
                if low > high:
                    low, high = f_low, min(f_high, 80)
            low = max(low, 20)
            high = max(high, low)
        age = r.randint(low, high)
    age = int(age)
    p["age"] = age
    if _empty(p.get("age_months")):
        p["age_months"] = _rng(seed, "age_months").randint(1, 11) if age == 0 else (
            _rng(seed, "age_months").randint(0, 11) if age < 3 else 0)

    if occupation_given:
        occupation = occupation_given
    else:
        occupation = choose_occupation(_rng(seed, "occupation"), age, gender, income_given)
    p["occupation"] = occupation
    kind = classify_occupation(occupation)

    if income_given is None:
        if age < 18 or kind in ("preschool",):
            p["income"] = NO_INCOME
        else:
            p["income"] = _rng(seed, "income").choice(incomes_for_occupation(occupation, age))
    else:
        p["income"] = income_given

    family = None
    if _empty(p.get("family")):
        family = make_family(_rng(seed, "family"), age, gender, kind)
        p["family"] = family.text
    else:
        family = _family_from_text(str(p["family"]))

    if _empty(p.get("life_events")):
        p["life_events"] = _rng(seed, "life_events").choice(life_event_candidates(age, family, kind))

    group = age_group(age)
    if _empty(p.get("hobby")):
        p["hobby"] = _rng(seed, "hobby").choice(HOBBIES["baby"] if age < 3 else HOBBIES[group])

    if _empty(p.get("prefecture")):
        r = _rng(seed, "prefecture")
        names = list(PREFECTURE_CAPITALS)
        p["prefecture"] = r.choices(names, weights=[_PREFECTURE_WEIGHTS.get(n, 1) for n in names])[0]
        if _empty(p.get("municipality")):
            p["municipality"] = r.choice(PREFECTURE_CAPITALS[p["prefecture"]])
    elif _empty(p.get("municipality")):
        cities = PREFECTURE_CAPITALS.get(str(p["prefecture"]))
        if cities:
            p["municipality"] = _rng(seed, "municipality").choice(cities)
        else:
            p["municipality"] = ""

    if _empty(p.get("name")):
        p["name"] = pick_name(_rng(seed, "name"), gender, age, set(avoid_names), year)

    for spec in EXTRA_FIELDS:
        if spec.key in ex:
            continue
        value = _rng(seed, f"extra:{spec.key}").choice(EXTRA_POOLS[spec.key][group])
        if "{" in value:
            value = value.format(hobby=p["hobby"], occupation=_short_occupation(occupation))
        ex[spec.key] = value
    return p, ex


def _short_occupation(occupation: str) -> str:
    return occupation.split("（", 1)[0] if not occupation.startswith("学生") else "学生"


def _family_from_text(text: str) -> Family:
    married = any(w in text for w in ("妻", "夫", "パートナー"))
    import re

    children = [int(m) for m in re.findall(r"[長次三][男女]（(\d+)歳）", text)]
    return Family(text, married=married, children=children, lives_with_parents=any(w in text for w in ("父", "母", "両親")))
