"""The seed's monitoring indicators and thresholds as pure functions over metric samples.

The seed (モニタリング指標) sets targets — CPU 10–30 %, memory <= 70–80 %, P95 <= 30 s, errors < 1 % — and warning
signs with remedies — memory > 90 %: fewer workers; CPU > 80 %: investigate; frequent 503s: fewer workers or a
longer timeout; "SIGKILL" in the logs: OOM, cut workers at once. Here they are computed from real metrics.

States: ``ok`` (目標どおり), ``caution`` (目標外だが警告未満), ``warning`` (警告サイン), ``unknown`` (データなし).
Rates and P95 use the counters' change over the last ``WINDOW_SECONDS`` when the worker's sampler has history,
else the totals since start (the snapshots and that history: ``ops.snapshots``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medipersona import localtime
from medipersona.ops.snapshots import Snapshot, histogram_quantile

# Thresholds (the seed's numbers; ours where the seed gives none, marked).
CPU_TARGET_MIN = 10.0        # seed: 10–30 % is normal (low because the app waits on AI APIs); shown only
CPU_TARGET_MAX = 30.0
CPU_WARNING = 80.0           # seed: > 80 % → investigate
MEMORY_TARGET_MIN = 70.0     # seed: <= 70–80 % (the upper end decides the state; the range is shown)
MEMORY_TARGET_MAX = 80.0
MEMORY_WARNING = 90.0        # seed: > 90 % → fewer workers
P95_TARGET_SECONDS = 30.0    # seed: P95 <= 30 s
ERROR_RATE_TARGET = 1.0      # seed: < 1 %
RATE_503_WARNING = 1.0       # ours: "503 frequent" = >= 1 % of requests or >= 10 in the window
COUNT_503_WARNING = 10
PROVIDER_ERROR_CAUTION = 1.0   # ours
PROVIDER_ERROR_WARNING = 5.0   # ours
PROVIDER_P95_CAUTION = 30.0    # ours, from the seed's image range (10–30 s)
QUEUE_DEPTH_CAUTION = 100      # ours: jobs wait only when every worker runs job_max_concurrency jobs
DB_CONNECTIONS_CAUTION = 80.0  # ours: % of PostgreSQL's max_connections held by this instance
DB_CONNECTIONS_WARNING = 95.0
LOOP_LAG_CAUTION = 0.5         # ours: a worker's event loop busy for > 0.5 s delays every request it holds


# --- indicators --------------------------------------------------------------------------------------------------


@dataclass
class Indicator:
    key: str
    label: str
    value: float | None
    display: str
    target: str
    state: str  # ok | caution | warning | unknown
    remedy: str = ""
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "value": self.value, "display": self.display,
                "target": self.target, "state": self.state, "remedy": self.remedy, "detail": self.detail}


def cpu_state(percent: float | None) -> str:
    if percent is None:
        return "unknown"
    if percent > CPU_WARNING:
        return "warning"
    if percent > CPU_TARGET_MAX:
        return "caution"
    return "ok"


def memory_state(percent: float | None) -> str:
    if percent is None:
        return "unknown"
    if percent > MEMORY_WARNING:
        return "warning"
    if percent > MEMORY_TARGET_MAX:
        return "caution"
    return "ok"


def p95_state(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    return "warning" if seconds > P95_TARGET_SECONDS else "ok"


def error_rate_state(errors: float, total: float) -> str:
    if total <= 0:
        return "unknown"
    return "warning" if 100.0 * errors / total >= ERROR_RATE_TARGET else "ok"


def status_503_state(count: float, total: float) -> str:
    if count <= 0:
        return "ok"
    if count >= COUNT_503_WARNING or (total > 0 and 100.0 * count / total >= RATE_503_WARNING):
        return "warning"
    return "caution"


def sigkill_state(in_window: float, since_start: float) -> str:
    if in_window > 0:
        return "warning"
    if since_start > 0:
        return "caution"
    return "ok"


def restart_state(restarts: dict[str, float]) -> str:
    """Recycling (max_requests) is expected; timeouts and crashes are not. SIGKILL has its own indicator."""
    if restarts.get("timeout", 0) > 0 or restarts.get("error", 0) > 0 or restarts.get("signal", 0) > 0:
        return "caution"
    return "ok"


def provider_error_state(failures: float, calls: float) -> str:
    if calls <= 0:
        return "unknown"
    rate = 100.0 * failures / calls
    if rate >= PROVIDER_ERROR_WARNING:
        return "warning"
    if rate >= PROVIDER_ERROR_CAUTION:
        return "caution"
    return "ok"


def provider_latency_state(p95: float | None) -> str:
    if p95 is None:
        return "unknown"
    return "caution" if p95 > PROVIDER_P95_CAUTION else "ok"


def queue_state(depth: float | None) -> str:
    if depth is None:
        return "unknown"
    return "caution" if depth > QUEUE_DEPTH_CAUTION else "ok"


def db_connections_state(open_connections: float | None, max_connections: int | None) -> str:
    """PostgreSQL only: the instance's open connections against the server's max_connections."""
    if open_connections is None or not max_connections:
        return "unknown" if open_connections is None else "ok"
    share = 100.0 * open_connections / max_connections
    if share >= DB_CONNECTIONS_WARNING:
        return "warning"
    if share >= DB_CONNECTIONS_CAUTION:
        return "caution"
    return "ok"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def _mb(value: float | None) -> str:
    return "—" if value is None else f"{value / 1024 / 1024:.0f} MB"


def evaluate(now: Snapshot, window: Snapshot, memory_percent: float | None, memory_detail: str = "",
             window_label: str = "起動以降", db_max_connections: int | None = None) -> list[Indicator]:
    """The seed's indicators with their states and remedies (Japanese, shown as is)."""
    out: list[Indicator] = []
    out.append(Indicator(
        "cpu", "CPU使用率", now.box_cpu, _pct(now.box_cpu), f"{CPU_TARGET_MIN:g}–{CPU_TARGET_MAX:g}%（AI待ちが長いため低くて正常）", cpu_state(now.box_cpu),
        "ボトルネックを調査（通常発生しないはず）。重い処理（PDF・画像・取り込み）がイベントループ上で動いていないか確認。"
        if cpu_state(now.box_cpu) != "ok" else "",
        "ワーカー合計: " + _pct(sum(now.worker_cpu.values())) if now.worker_cpu else ""))
    out.append(Indicator(
        "memory", "メモリ使用率", memory_percent, _pct(memory_percent), f"{MEMORY_TARGET_MIN:g}–{MEMORY_TARGET_MAX:g}%以下", memory_state(memory_percent),
        {"warning": "ワーカー数を減らす（medipersona advise-workers で実測値から再計算）",
         "caution": "目標超過: ワーカー数の見直しを検討"}.get(memory_state(memory_percent), ""),
        memory_detail))
    p95 = histogram_quantile(0.95, window.latency_buckets)
    out.append(Indicator(
        "p95", "レスポンスタイム（P95）", p95, "—" if p95 is None else f"{p95:.2f}秒", f"{P95_TARGET_SECONDS:g}秒以内", p95_state(p95),
        "遅い画面とAIサービスの応答時間（ログの「[AI] Response time」）を確認" if p95_state(p95) == "warning" else "",
        f"{window_label}・{window.requests:.0f}件（生成中の逐次配信・死活監視を除く）"))
    rate = 100.0 * window.errors_5xx / window.requests if window.requests else None
    out.append(Indicator(
        "error_rate", "サーバーエラー率（5xx）", rate, _pct(rate), f"{ERROR_RATE_TARGET:g}%未満", error_rate_state(window.errors_5xx, window.requests),
        "画面に表示されたリクエストIDでログのエラー内容を確認" if error_rate_state(window.errors_5xx, window.requests) == "warning" else "",
        f"{window_label}・{window.errors_5xx:.0f}件 / {window.requests:.0f}件"))
    s503 = status_503_state(window.status_503, window.requests)
    out.append(Indicator(
        "status_503", "混雑による受付拒否（503）", window.status_503, f"{window.status_503:.0f}件", "0件（頻発しないこと）", s503,
        "ワーカー数を減らすか、タイムアウトを延長" if s503 != "ok" else "",
        window_label))
    sigkills_window = window.restarts.get("sigkill", 0.0)
    sigkills_total = now.restarts.get("sigkill", 0.0)
    sk = sigkill_state(sigkills_window, sigkills_total)
    last = localtime.format_datetime(now.last_sigkill, seconds=True) if now.last_sigkill else "なし"
    out.append(Indicator(
        "sigkill", "メモリ不足による強制終了", sigkills_total, f"{sigkills_total:.0f}回", "0回", sk,
        "メモリ不足（ログでは SIGKILL / OOM）: ワーカー数をすぐに減らす" if sk != "ok" else "",
        f"{window_label}: {sigkills_window:.0f}回・最後: {last}"))
    restarts_total = sum(v for k, v in now.restarts.items() if k != "sigkill")
    reasons = "、".join(f"{REASON_LABELS.get(k, k)} {v:.0f}" for k, v in sorted(now.restarts.items()) if v) or "なし"
    rs = restart_state(now.restarts)
    out.append(Indicator(
        "restarts", "ワーカーの再起動", restarts_total, f"{restarts_total:.0f}回", "定期的な入れ替え（max-requests）のみ", rs,
        "応答なしによる再起動（ログでは WORKER TIMEOUT）: 処理を止めている同期処理がないか確認。異常終了: ログを確認"
        if rs != "ok" else "",
        f"起動以降の内訳: {reasons}"))
    out.append(Indicator(
        "in_flight", "実行中の生成", now.in_flight, f"{now.in_flight:.0f}件", "1ワーカーで数百件まで", "ok", "",
        "終了した生成: " + "・".join(f"{OUTCOME_LABELS.get(k, k)} {v:.0f}件" for k, v in sorted(window.generations.items()))
        if window.generations else ""))
    qs = queue_state(now.queue_depth)
    out.append(Indicator(
        "queue", "ジョブ待ち行列", now.queue_depth, "—" if now.queue_depth is None else f"{now.queue_depth:.0f}件",
        f"{QUEUE_DEPTH_CAUTION}件以下", qs,
        "全ワーカーが同時実行の上限に達しています。上限（MEDIPERSONA_JOB_MAX_CONCURRENCY）かサーバー台数を見直す"
        if qs == "caution" else "",
        f"止まったワーカーから引き継いだ生成: {window.job_recoveries:.0f}件"))
    ds = db_connections_state(now.db_open, db_max_connections)
    in_use = "—" if now.db_in_use is None else f"{now.db_in_use:.0f}"
    out.append(Indicator(
        "db_connections", "データベース接続数", now.db_open, "—" if now.db_open is None else f"{now.db_open:.0f}",
        f"接続上限（max_connections）の{DB_CONNECTIONS_CAUTION:.0f}%未満" if db_max_connections else "（SQLite: 上限なし）", ds,
        "ワーカー数を減らすか、PostgreSQLの接続上限（max_connections）を増やす（1ワーカーあたり最大40接続）"
        if ds in ("caution", "warning") else "",
        f"使用中 {in_use}" + (f"・PostgreSQLの接続上限 {db_max_connections}（他のサーバー・クライアントと共有）"
                            if db_max_connections else "")))
    return out


REASON_LABELS = {"recycled": "定期的な入れ替え", "sigkill": "メモリ不足による強制終了", "timeout": "応答なし",
                 "signal": "外部からの停止", "error": "異常終了"}
OUTCOME_LABELS = {"done": "完了", "failed": "失敗"}


def provider_rows(window: Snapshot) -> list[dict[str, Any]]:
    rows = []
    for (provider, model), stats in sorted(window.providers.items()):
        p50 = histogram_quantile(0.5, stats.buckets)
        p95 = histogram_quantile(0.95, stats.buckets)
        err = 100.0 * stats.failures / stats.calls if stats.calls else None
        state_e = provider_error_state(stats.failures, stats.calls)
        state_l = provider_latency_state(p95)
        worst = max((state_e, state_l), key=lambda s: STATE_ORDER.get(s, 0))
        rows.append({
            "provider": provider, "model": model, "calls": stats.calls, "error_rate": err,
            "error_rate_display": _pct(err), "p50": p50, "p95": p95,
            "p50_display": "—" if p50 is None else f"{p50:.1f}秒", "p95_display": "—" if p95 is None else f"{p95:.1f}秒",
            "state": worst,
            "remedy": ("より高速なAIモデルを選択（例: gpt-4o-mini）" if state_l == "caution" else "")
            + (" エラー率が高い: APIキー・利用枠・予備のAIサービスの設定を確認" if state_e in ("caution", "warning") else ""),
        })
    return rows


STATE_ORDER = {"unknown": 0, "ok": 1, "caution": 2, "warning": 3}
STATE_LABELS = {"ok": "正常", "caution": "注意", "warning": "警告", "unknown": "データなし"}


def page_thresholds() -> dict[str, str]:
    """The numbers the monitoring page's prose quotes (warning signs, the loop-lag note), from the constants the
    states are computed with, so the page and the states cannot disagree."""
    from medipersona.ops.metrics import LAG_TICK_SECONDS

    return {"memory_warning": f"{MEMORY_WARNING:g}", "cpu_warning": f"{CPU_WARNING:g}",
            "lag_tick_seconds": f"{LAG_TICK_SECONDS:g}", "loop_lag_caution_seconds": f"{LOOP_LAG_CAUTION:g}"}


def overall_state(indicators: list[Indicator]) -> str:
    return max((i.state for i in indicators), key=lambda s: STATE_ORDER.get(s, 0), default="unknown")


def worker_rows(now: Snapshot) -> list[dict[str, Any]]:
    rows = []
    for pid, rss in sorted(now.worker_rss.items()):
        lag = now.worker_lag.get(pid)
        rows.append({"pid": pid, "rss": rss, "rss_display": _mb(rss), "cpu_display": _pct(now.worker_cpu.get(pid)),
                     "lag": lag, "lag_display": "—" if lag is None else f"{lag * 1000:.0f} ms",
                     "lag_state": "unknown" if lag is None else ("caution" if lag > LOOP_LAG_CAUTION else "ok")})
    return rows

