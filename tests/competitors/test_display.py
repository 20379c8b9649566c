"""The rows the result page and the exports show, built from what the job really stores (market_stats, the demand
estimate, the population shapes), so a renamed key shows up here instead of as a silent "—"."""

from __future__ import annotations

from medipersona.competitors import display
from medipersona.competitors.demand import estimate
from medipersona.competitors.market import market_stats
from tests.competitors.analysis_samples import analysis_values

BANDS = {"0-14": 12_000, "15-64": 60_000, "65-74": 14_000, "75+": 14_000}


def analysis(**overrides) -> dict:
    from medipersona.competitors.models import CompetitorAnalysis
    from medipersona.competitors.service import analysis_to_api

    return analysis_to_api(CompetitorAnalysis(id="b" * 32, **analysis_values(1, **overrides)))


def test_market_rows_from_market_stats():
    comps = sorted(analysis_values(1)["competitors"], key=lambda c: c["distance_m"])
    rows = dict(display.market_rows(analysis(market=market_stats(comps, 3))))
    assert rows["競合数（半径3km）"] == "3件"
    assert rows["1km²あたり"] == "0.11件"
    assert rows["平均評価"] == "3.8"
    assert rows["平均口コミ数"] == "56件"
    assert rows["ウェブサイトあり"] == "67%"  # two of three have a website value
    assert rows["最寄りの競合"] == "あおば内科（600m）"
    bands = display.band_rows(analysis(market=market_stats(comps, 3)))
    assert [label for label, _ in bands] == ["0.5km以内", "0.5〜1km", "1〜2km", "2〜3km"]
    assert [count for _, count in bands] == ["0件", "1件", "1件", "1件"]


def test_population_and_demand_rows_from_user_population():
    population = {"status": "user", "area_code": "13101", "area_name": "千代田区", "total": 100_000,
                  "age_bands": BANDS, "source": "user"}
    demand = estimate(population, ["internal_medicine"], "urban")
    a = analysis(population=population, demand=demand)
    pop = dict(display.population_rows(a))
    assert pop["地域"] == "千代田区 13101"
    assert pop["総人口"] == "100,000人"
    assert pop["65〜74歳"] == "14,000人（14.0%）"
    assert pop["出典"] == "入力値"
    rows = dict(display.demand_rows(a))
    assert rows["外来患者数／日（推計）"] == f"{round(demand['daily_patients']):,}人"
    assert rows["外来患者数／年（推計）"] == f"{demand['annual_patients']:,}人"
    assert rows["地域区分"].startswith("都市部")
    method = display.demand_method(a)
    assert demand["formula"] in method and demand["note"] in method and "サンプル" in method


def test_no_population_is_said_not_invented():
    message = "人口データはありません（e-Stat APIが設定されておらず、人口の入力もありません）。"
    demand = estimate(None, ["internal_medicine"], None)
    a = analysis(population={"status": "unavailable", "source": "unavailable", "message": message}, demand=demand)
    assert display.population_rows(a) == [("人口データ", message)]
    assert display.demand_rows(a) == [("需要推計", demand["message"])]
    assert display.demand_method(a) == ""


def test_swot_items_become_lines_and_table_links_only_http():
    a = analysis(swot={"strengths": ["駅から近い", "土曜も診療"], "weaknesses": [], "differentiation": ["夜間診療"]})
    blocks = {k: t for k, _label, t in display.swot_blocks(a)}
    assert blocks["strengths"] == "・駅から近い\n・土曜も診療" and blocks["weaknesses"] == ""
    assert {k: t for k, _label, t in display.strategy_blocks(a)}["differentiation"] == "・夜間診療"
    rows = display.competitor_rows(a)
    assert [r["number"] for r in rows] == ["1", "2", "3"]
    assert [r["website"] for r in rows] == ["https://aoba.example.jp/", "", ""]  # javascript: is dropped
