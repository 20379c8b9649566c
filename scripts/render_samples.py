"""Regenerate the export samples in docs/samples from a sample persona.

    .venv/bin/python scripts/render_samples.py [--out docs/samples] [--dpi 110]

Goes through the real export path: a throwaway database (migrated, with the fictional sample keyword data that
``medipersona migrate`` loads), a persona row with a stored portrait from the offline portrait renderer, then
``exports.service.build_document`` and the PDF/PPTX renderers. Writes sample_persona.pdf / .pptx, the PDF pages as
PNG (pdftoppm, poppler-utils) and the slides as PNG (drawn from the PPTX itself by ``exports.preview``).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

SECTIONS = {
    "personality": "真面目で責任感が強く、仕事でも家庭でも「きちんとやりたい」と考えるタイプ。一方で完璧を求めすぎて疲れ"
                   "やすく、最近は自分を労わる時間の大切さを意識し始めている。人に頼るのは少し苦手。",
    "reason": "3か月ほど前から朝起きたときや立ち上がったときにふらつきを感じるようになった。仕事中にも数回ぐるぐるする"
              "めまいがあり、車の運転や子どもの送り迎えが不安になったため、原因をはっきりさせたいと受診を考えている。",
    "behavior": "症状は週に2〜3回、寝不足や忙しい日の後に出やすい。まずスマートフォンで症状と原因を検索し、耳鼻科か内科"
                "かで迷う。仕事を休みにくいため、土曜や夕方に診てもらえるクリニックを探し、Web予約ができる所を優先する。",
    "reviews": "医師の説明がわかりやすいか、検査の内容と費用を事前に教えてくれるか、待ち時間がどのくらいかを重視する。"
               "星の数よりも、同じ症状の人の具体的な体験談を読んで判断する。",
    "values": "医療機関には「話をきちんと聞いてくれること」を期待している。薬だけ出されて終わるのは不安で、生活習慣で"
              "気をつけることも教えてほしい。納得できれば通院は続けるが、合わなければ早めに別の医院を探す。",
    "demands": "短い待ち時間とWeb予約、夕方以降や土曜の診療。検査結果を図や数値で説明してくれること。再発したときに"
               "相談しやすい雰囲気と、必要なら専門医をすぐ紹介してくれる連携体制。",
}
ANALYSIS = {
    "psychology": "主訴の検索より前は「めまい 原因」「ふらつき 朝」など症状と不安を確かめる検索が中心で、自分で原因を"
                  "突き止めようとする段階にある。検索の直前には「何科」「受診 目安」が増え、受診の判断に迷っている。"
                  "検索後は検査内容や治療法、体験談へ関心が移り、具体的な医療機関の比較に入っていく。",
    "hidden_needs": "「大きな病気ではないか」という不安を早く解消したい気持ちと、仕事や家事を止めずに通える手軽さの"
                    "両立を求めている。検査の流れや費用が事前にわかることも、受診を後押しする隠れた条件になっている。",
    "marketing": "症状別の解説ページで「何科に行けばよいか」「受診の目安」に答え、そこからWeb予約へつなぐ導線を作る。"
                 "検査の流れと費用の目安、夕方・土曜診療、待ち時間の目安を一目でわかる形で示す。受診後は再発時の"
                 "相談窓口や生活習慣のアドバイスを発信し、口コミにつながる体験を設計する。",
}


def make_settings(data_dir: Path):
    from medipersona.migrate import upgrade
    from medipersona.settings import Settings

    settings = Settings(data_dir=data_dir, secret_key="samples", admin_password="sample-password-123",
                        text_provider="offline", image_provider="offline")
    upgrade(settings)  # synchronous: runs its own event loop
    return settings


async def build(settings):
    from medipersona.bootstrap import first_run
    from medipersona.db import Database
    from medipersona.exports.service import build_document
    from medipersona.personas.models import Persona

    await first_run(settings)
    settings.images_dir.mkdir(parents=True, exist_ok=True)
    try:
        from medipersona.providers.portrait import portrait_png

        png = await portrait_png({"age": 34, "gender": "female"}, seed=11)
    except Exception as exc:  # noqa: BLE001 - sample still renders with the placeholder
        print(f"portrait renderer unavailable ({exc}); exporting without a portrait", file=sys.stderr)
        png = None
    if png:
        (settings.images_dir / "sample.png").write_bytes(png)
    db = Database(settings)
    try:
        async with db.sessionmaker() as session:
            persona = Persona(
                owner_id=1, status="done", department_id="internal_medicine",
                chief_complaint_id="internal_medicine.dizziness", purpose_id="marketing", setting_type="auto",
                seed=11, name="佐藤 美咲",
                profile={"name": "佐藤 美咲", "gender": "female", "age": 34, "prefecture": "神奈川県",
                         "municipality": "横浜市港北区", "family": "夫、長男（5歳）と3人暮らし",
                         "occupation": "会社員（経理）", "income": "400-500", "hobby": "ヨガ、カフェ巡り",
                         "life_events": "昨年、部署異動で残業が増えた"},
                extras={"motto": "できることを、できるだけ", "concerns": "睡眠不足と仕事の忙しさ、子どもの小学校入学準備",
                        "favorite_person": "綾瀬はるか", "media": "Instagram、YouTube、LINEニュース",
                        "personality_keywords": "真面目、心配性、計画的",
                        "health_actions": "スマートウォッチで睡眠を記録し始めた",
                        "holiday": "家族で公園へ出かけ、夜は録画したドラマを見る",
                        "catchphrase": "がんばりすぎる毎日に、安心できるかかりつけを"},
                extra_fields=[{"name": "通勤手段", "value": "電車で片道40分"}],
                sections=SECTIONS, timeline_status="done", timeline_analysis=ANALYSIS,
                image_status="done" if png else "failed", image_path="sample.png" if png else None,
                created_at=datetime(2026, 11, 28, 9, 0, tzinfo=UTC),  # fixed: the samples are reproducible
            )
            session.add(persona)
            await session.commit()
            return await build_document(session, settings, persona)
    finally:
        await db.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "samples")
    parser.add_argument("--dpi", type=int, default=110)
    args = parser.parse_args()
    from medipersona.exports.pdf import render_pdf
    from medipersona.exports.pptx import render_pptx
    from medipersona.exports.preview import slide_images

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        doc = asyncio.run(build(make_settings(Path(tmp) / "var")))
        if not (doc.get("timeline") or {}).get("series"):
            print("warning: no keyword series for the sample (keyword store not available?)", file=sys.stderr)
        pdf = render_pdf(doc)
        pptx = render_pptx(doc)
        (args.out / "sample_persona.pdf").write_bytes(pdf)
        (args.out / "sample_persona.pptx").write_bytes(pptx)
        if not shutil.which("pdftoppm"):
            print("pdftoppm missing: apt-get install -y poppler-utils", file=sys.stderr)
            return 1
        subprocess.run(["pdftoppm", "-r", str(args.dpi), "-png", str(args.out / "sample_persona.pdf"),
                        str(Path(tmp) / "page")], check=True)
        for i, page in enumerate(sorted(Path(tmp).glob("page-*.png")), start=1):
            shutil.copy(page, args.out / f"persona_pdf_page{i}.png")
    for i, image in enumerate(slide_images(pptx, dpi=args.dpi), start=1):
        image.save(args.out / f"persona_pptx_slide{i}.png", optimize=True)
    for path in sorted(args.out.glob("persona_*.png")):
        print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
