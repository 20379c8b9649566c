"""The tables auto-fill draws from: occupations, places, names, guardians' concerns, age rules by department.

Data only (the life-stage word pools are in ``autofill_pools.py``); the rules that read these tables are in the
other ``autofill_*`` modules. Order matters: draws pick by index from these tuples, so reordering or inserting an
entry changes the persona a given seed produces.
"""

from __future__ import annotations

from dataclasses import dataclass

from medipersona.catalog.labels import INCOME_BANDS, MAX_AGE

INCOME_ORDER: tuple[str, ...] = tuple(INCOME_BANDS)
PENSION_INCOMES = ("100-200", "200-300", "300-400")
NO_INCOME = "none"
PARTNER_COMPLAINT_WORDS = ("妊娠", "不妊", "避妊", "産後")  # complaints that imply a partner in the household
GUARDIAN_AGE = 15  # under this age the profile gains a guardian
DEPENDENT_AGE = 80  # from this age, living with a grown child, that child may be the guardian


def band_range(lo: str, hi: str) -> tuple[str, ...]:
    """The income bands from ``lo`` to ``hi`` inclusive (codes of ``catalog.labels.INCOME_BANDS``)."""
    i, j = INCOME_ORDER.index(lo), INCOME_ORDER.index(hi)
    return INCOME_ORDER[i:j + 1]


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
    Occupation("会社員（事務職）", 22, 64, band_range("300-400", "500-600")),
    Occupation("会社員（営業職）", 22, 64, band_range("400-500", "800-1000")),
    Occupation("会社員（技術職）", 22, 64, band_range("400-500", "800-1000")),
    Occupation("会社員（管理職）", 35, 64, band_range("700-800", "1000-1500")),
    Occupation("公務員", 22, 64, band_range("400-500", "800-1000")),
    Occupation("看護師", 22, 64, band_range("400-500", "600-700")),
    Occupation("小学校教員", 23, 64, band_range("400-500", "700-800")),
    Occupation("介護職員", 20, 65, band_range("200-300", "400-500")),
    Occupation("販売スタッフ", 20, 60, band_range("200-300", "300-400")),
    Occupation("飲食店経営（自営業）", 28, 75, band_range("300-400", "700-800")),
    Occupation("フリーランス（Webデザイナー）", 23, 60, band_range("200-300", "600-700")),
    Occupation("ITエンジニア", 22, 60, band_range("500-600", "1000-1500")),
    Occupation("医療事務", 20, 64, band_range("200-300", "400-500")),
    Occupation("建設作業員", 20, 64, band_range("300-400", "500-600")),
    Occupation("会社役員", 40, 75, band_range("1000-1500", "gte2000")),
    Occupation("パート（スーパー勤務）", 20, 72, ("lt100", "100-200"), "parttime"),
    Occupation("アルバイト（飲食店）", 18, 35, ("lt100", "100-200"), "parttime"),
    Occupation("専業主婦", 22, 80, (NO_INCOME,), "homemaker", ("female",)),
    Occupation("専業主夫", 25, 80, (NO_INCOME,), "homemaker", ("male",)),
    Occupation("嘱託社員（再雇用）", 60, 70, band_range("200-300", "400-500")),
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
OCCUPATION_AGES: tuple[tuple[tuple[str, ...], int, int], ...] = (
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
PREFECTURE_WEIGHTS = {"東京都": 14, "神奈川県": 9, "大阪府": 9, "愛知県": 7, "埼玉県": 7, "千葉県": 6,
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


# ------------------------------------------------------------------------------------------------ guardian
GUARDIAN_CONCERNS: dict[str, tuple[str, ...]] = {
    "infant": ("夜泣きで寝不足が続いている", "仕事復帰と保育園探し", "離乳食の進め方", "発達が順調かどうか",
               "予防接種のスケジュール管理", "子どもが熱を出したときの仕事の調整"),
    "preschool": ("保育園の送迎と仕事の両立", "子どもの好き嫌い", "子どもがよく風邪をひく", "言葉の発達",
                  "きょうだいげんか", "子どもが熱を出したときの仕事の調整"),
    "child": ("習い事の費用", "ゲームやスマホの時間のルール", "学校生活の様子", "子どもの視力", "宿題を見る時間がない",
              "共働きで通院の時間がとりにくい"),
    "teen": ("高校受験", "スマホの使い方", "反抗期への接し方", "部活と勉強の両立", "塾の費用"),
    "elderly": ("親の通院の付き添いと仕事の両立", "親の物忘れ", "介護サービスの利用", "親の転倒", "親の食事と服薬の管理"),
}
GUARDIAN_MEDIA: tuple[str, ...] = ("子育て情報アプリ", "地域の子育てサイト", "ママ・パパ向けのSNSアカウント",
                                   "病院の予約アプリ", "自治体の子育て情報メール")
ELDERLY_GUARDIAN_MEDIA: tuple[str, ...] = ("介護情報サイト", "自治体の高齢者向け情報")


# ----------------------------------------------------------------------------------------------- extras
CHILD_CATCH = ("よく笑う", "元気いっぱいの", "好奇心いっぱいの", "ちょっぴり人見知りの", "甘えん坊の", "がんばり屋の",
               "マイペースな", "恥ずかしがり屋の", "おしゃべりな", "のんびり屋の")


# ---------------------------------------------------------------------------------------- demographics
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
SOURCE_LABELS = {
    "keywords": "キーワードデータの性別・年代の比率から選びました",
    "rules": "診療科・主訴の想定患者層から選びました",
    "given": "入力された性別・年齢を使いました",
}


# What an extra field gets when none of its pool's values fits the person (never reached with the current pools).
EXTRA_FALLBACKS: dict[str, str] = {
    "motto": "一日一日を大切に",
    "concerns": "季節の変わり目の体調",
    "favorite_person": "家族",
    "media": "テレビ",
    "personality_keywords": "穏やか",
    "health_actions": "規則正しい生活を心がけている",
    "holiday": "家でゆっくり過ごす",
    "life_events": "生活習慣を見直し始めた",
    "hobby": "散歩",
}
