"""``medipersona advise-workers``: the seed's worker formula on this box, with a measured worker memory."""

from __future__ import annotations

import argparse
import concurrent.futures
import time
from dataclasses import dataclass, field

from medipersona.ops import advisor, system
from medipersona.ops.advisor import SEED_WORKER_RSS_MB


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "advise-workers",
        help="the seed's worker formula with measured memory (prints the calculation; last line 'workers: N')",
        description="min(CPU × 4-8, memory / worker memory, peak users / 10). Without --worker-rss-mb a worker is "
        "started on a free port with a temporary database, warmed with a few requests and generations, and its "
        "memory is measured from /proc (and saved for the gunicorn config).",
    )
    p.add_argument("--cpus", type=float, default=None, help="CPUs (default: affinity mask / cgroup quota)")
    p.add_argument("--memory-mb", type=float, default=None, help="memory for the app in MB (default: cgroup limit "
                   "or MemTotal)")
    p.add_argument("--peak-users", type=int, default=None, help="peak concurrent users (default: "
                   "$MEDIPERSONA_PEAK_USERS or 50)")
    p.add_argument("--worker-rss-mb", type=float, default=None, help="memory per worker in MB (default: measure)")
    p.add_argument("--burst", type=int, default=50, help="concurrent generations in the measurement (default 50)")
    p.add_argument("--no-save", action="store_true", help="do not save the measurement for the gunicorn config")
    p.set_defaults(handler=cmd_advise_workers)


@dataclass
class Measurement:
    idle_mb: float = 0.0
    warm_mb: float = 0.0
    peak_mb: float = 0.0
    pss_mb: float | None = None
    generations: int = 0
    burst: int = 0
    burst_seconds: float | None = None
    burst_peak_mb: float = 0.0
    burst_done: int = 0
    simulated_seconds: tuple[float, float] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def rss_for_formula(self) -> float:
        """The high-water mark: the worker's largest footprint so far (conservative)."""
        return max(self.warm_mb, self.peak_mb, self.burst_peak_mb)


def _simulated_available() -> bool:
    try:
        from medipersona.providers.registry import get_provider_class

        get_provider_class("simulated")
        return True
    except Exception:  # noqa: BLE001 - the provider may not exist in this version
        return False


def measure_worker(burst: int = 50, echo=print) -> Measurement:
    """Start one uvicorn worker, warm it, generate, and read its memory from /proc."""
    import httpx

    from medipersona.ops.probe import TERMINAL, ProbeServer, generation_payload

    m = Measurement()
    env: dict[str, str] = {}
    if burst and _simulated_available():
        # Short simulated API waits: enough to keep `burst` generations in flight at once.
        m.simulated_seconds = (1.0, 2.0)
        env.update({"MEDIPERSONA_TEXT_PROVIDER": "simulated", "MEDIPERSONA_IMAGE_PROVIDER": "simulated",
                    "MEDIPERSONA_SIMULATED_TEXT_SECONDS": "1", "MEDIPERSONA_SIMULATED_IMAGE_SECONDS": "2"})
    echo("計測用のWorkerを起動しています（一時データベース・空きポート）…")
    with ProbeServer(workers=0, env=env) as srv:
        pid = srv.worker_pids()[0]
        time.sleep(0.5)
        m.idle_mb = (system.process_rss_bytes(pid) or 0) / 1048576
        with httpx.Client(base_url=srv.base_url, timeout=60) as c:
            c.get("/login")
            c.headers["Authorization"] = f"Bearer {srv.token(c)}"
            catalog = c.get("/api/catalog").json()
            for path in ("/", "/api/auth/me", "/personas/new", "/admin/monitoring"):
                c.get(path)
            ids: list[str] = []

            def create(i: int) -> str | None:
                r = c.post("/api/personas", json=generation_payload(catalog, i))
                if r.status_code != 202:
                    if i == 0:
                        m.notes.append(f"POST /api/personas -> {r.status_code}: 生成の計測は省略")
                    return None
                body = r.json()
                return str(body.get("id") or body.get("persona_id") or (body.get("persona") or {}).get("id"))

            def wait(pid_: str, timeout: float = 120) -> str:
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    r = c.get(f"/api/personas/{pid_}")
                    status = (r.json() or {}).get("status") if r.status_code == 200 else "missing"
                    if status in TERMINAL or status == "missing":
                        return status
                    time.sleep(0.25)
                return "timeout"

            for i in range(2):
                if (new_id := create(i)) is None:
                    break
                wait(new_id)
                m.generations += 1
            m.warm_mb = (system.process_rss_bytes(pid) or 0) / 1048576
            if burst and m.generations:
                echo(f"{burst}件の生成を同時に投入しています…")
                start = time.monotonic()
                with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
                    ids = [i for i in pool.map(create, range(2, 2 + burst)) if i]
                    peak = 0.0
                    futures = [pool.submit(wait, i) for i in ids]
                    while not all(f.done() for f in futures):
                        peak = max(peak, (system.process_rss_bytes(pid) or 0) / 1048576)
                        time.sleep(0.1)
                m.burst, m.burst_seconds, m.burst_peak_mb = len(ids), time.monotonic() - start, peak
                m.burst_done = sum(1 for f in futures if f.result() == "done")
        m.peak_mb = (system.process_peak_rss_bytes(pid) or 0) / 1048576
        pss = system.process_pss_bytes(pid)
        m.pss_mb = pss / 1048576 if pss else None
    return m


def cmd_advise_workers(args: argparse.Namespace) -> int:
    from medipersona.settings import get_settings

    settings = get_settings()
    if args.cpus is not None:
        cpus, cpu_source = args.cpus, "--cpus"
    else:
        cpus, cpu_source = system.detect_cpus()
    if args.memory_mb is not None:
        memory_mb, memory_source = args.memory_mb, "--memory-mb"
    else:
        limit, memory_source = system.detect_memory_limit(settings.memory_limit_mb)
        memory_mb = limit / 1048576
    peak_users = args.peak_users if args.peak_users is not None else advisor.peak_users_input()
    print("== 入力 ==")
    print(f"CPU: {cpus:g}（{cpu_source}）")
    print(f"利用可能メモリ: {memory_mb:.0f} MB（{memory_source}）")
    print(f"ピーク同時ユーザー数: {peak_users}人")

    measurement: Measurement | None = None
    if args.worker_rss_mb is not None:
        rss_mb, rss_source = args.worker_rss_mb, "--worker-rss-mb"
    else:
        try:
            measurement = measure_worker(args.burst)
        except Exception as exc:  # noqa: BLE001 - fall back to the saved value or the seed's number
            print(f"計測に失敗しました（{type(exc).__name__}: {str(exc)[:300]}）")
            rss_mb, rss_source = advisor.worker_rss_input(settings.data_dir)
        else:
            rss_mb, rss_source = measurement.rss_for_formula, "計測値（ピークRSS, VmHWM）"
            if not args.no_save:
                saved = advisor.save_measurement(settings.data_dir, rss_mb, {
                    "idle_mb": round(measurement.idle_mb, 1), "warm_mb": round(measurement.warm_mb, 1),
                    "burst": measurement.burst})
                if saved:
                    rss_source += f"、{saved} に保存（gunicorn設定が使用）"
    print(f"Worker平均メモリ: {rss_mb:.0f} MB（{rss_source}）")

    if measurement is not None:
        print()
        print("== Workerメモリの実測 ==")
        print(f"起動直後: {measurement.idle_mb:.0f} MB RSS")
        print(f"ウォームアップ後（ログイン画面・カタログ・画面表示・生成 {measurement.generations}件）: "
              f"{measurement.warm_mb:.0f} MB RSS")
        if measurement.burst:
            waits = measurement.simulated_seconds
            wait_text = f"（模擬API待ち テキスト{waits[0]:g}秒・画像{waits[1]:g}秒）" if waits else ""
            print(f"同時生成 {measurement.burst}件{wait_text}: {measurement.burst_seconds:.1f}秒で全件終了"
                  f"（完了 {measurement.burst_done}件）、ピーク {measurement.burst_peak_mb:.0f} MB RSS")
        print(f"ピークRSS（VmHWM）: {measurement.peak_mb:.0f} MB"
              + (f"、PSS（共有ページを按分）: {measurement.pss_mb:.0f} MB" if measurement.pss_mb else ""))
        for note in measurement.notes:
            print(f"注記: {note}")

    advice = advisor.advise(cpus, memory_mb, peak_users, rss_mb)
    print()
    print("== ガイドの計算式 ==")
    print("最適Worker数 = min(CPU × 4-8, 利用可能メモリ / Worker平均メモリ, ピーク同時ユーザー数 / 10)")
    for step in advice.steps():
        print(step)

    print()
    print("== ガイドの前提との違い ==")
    ratio = SEED_WORKER_RSS_MB / rss_mb if rss_mb else 0
    if measurement is not None:
        print(f"ガイドは1 Workerあたり600 MB（旧システムの実測 500-700 MB）を前提にしています。"
              f"実測したWorkerは {rss_mb:.0f} MB で、約{ratio:.1f}分の1です"
              "（AI SDK・PDF・グラフのライブラリを必要になるまで読み込まず、PDF/PPTXは別プロセスで作るため）。")
    else:
        print(f"ガイドは1 Workerあたり600 MB（旧システムの実測 500-700 MB）を前提にしています。"
              f"ここでは {rss_mb:.0f} MB（{rss_source}）で計算しました。--worker-rss-mb を外すと実測します。")
    seed_advice = advisor.advise(cpus, memory_mb, peak_users, SEED_WORKER_RSS_MB)
    print(f"600 MB で計算した場合: メモリ基準 {seed_advice.memory_bound} → {seed_advice.workers} workers")
    if measurement is not None and measurement.burst and measurement.burst_seconds:
        # one generation = text and portrait in parallel: max(text, image) of API waiting
        serial = measurement.burst * max(measurement.simulated_seconds or (0, 0))
        print(f"同時実行数: ガイドは「Worker 3 = 同時AI生成 3件」としていますが、生成はAPI待ちの非同期ジョブなので"
              f"1つのWorkerが{measurement.burst}件を同時に処理し {measurement.burst_seconds:.1f}秒で終えました"
              f"（1件ずつなら約{serial:.0f}秒）。1 Workerの同時生成数の上限は数百件"
              f"（MEDIPERSONA_JOB_MAX_CONCURRENCY、既定500）で、Worker数ではありません。")
    else:
        print("同時実行数: 生成はAPI待ちの非同期ジョブなので、1つのWorkerが数百件の生成を同時に処理します"
              "（MEDIPERSONA_JOB_MAX_CONCURRENCY、既定500）。Worker数 = 同時生成数ではありません。")
    print(f"Workerを増やしても同時生成数は増えず、メモリが増えるだけです。律速は「{_LIMIT_LABELS[advice.limiting]}」です。"
          "WEB_CONCURRENCY で上書きできます。")
    if (per_worker := advisor.postgres_connections_per_worker()) is not None:
        print(f"PostgreSQL使用時: 1 Workerあたり最大{per_worker}接続 × {advice.workers} workers = "
              f"{per_worker * advice.workers}接続（インスタンスごと）。全インスタンスの合計が PostgreSQL の "
              "max_connections（既定100）を超えると「too many clients」で生成が失敗します。")
    print()
    print(f"workers: {advice.workers}")
    return 0


_LIMIT_LABELS = {"cpu": "CPU基準", "memory": "メモリ基準", "users": "ユーザー基準"}
