"""The one settings class. Every value comes from an environment variable (prefix ``MEDIPERSONA_``).

There are no default secrets: sessions, API tokens and CSRF tokens are random values kept (hashed) in the
database, so nothing is signed; the first admin password comes from the environment or is generated and printed
once.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MEDIPERSONA_", env_file=None, extra="ignore")

    # --- storage -------------------------------------------------------------------------------------------
    data_dir: Path = Field(Path("var"), description="Where the SQLite file and the secret key live (portraits are "
                           "in the database or a bucket; <data_dir>/images only holds files from before).")
    database_pool_size: int = Field(
        10, ge=1, le=200, description="PostgreSQL connections each worker keeps open. Budget: workers x "
        "(pool size + overflow) must stay below the server's max_connections."
    )
    database_max_overflow: int = Field(10, ge=0, le=200, description="Extra PostgreSQL connections a worker may open at peaks.")
    database_url: str = Field(
        "", description="SQLAlchemy async URL. Empty: SQLite file <data_dir>/medipersona.db. "
        "PostgreSQL: postgresql+asyncpg://user:pass@host/db"
    )

    timezone: str = Field(
        "Asia/Tokyo", description="Time zone of every date people read (pages, PDF/PPTX, usage per day, monitoring); "
        "an IANA name. Times are stored in UTC."
    )

    # --- accounts and sessions -----------------------------------------------------------------------------
    secret_key: str = Field("", description="Unused, accepted for older configurations: nothing is signed "
                            "(sessions, API tokens and CSRF tokens are random values kept hashed in the database).")
    admin_username: str = Field("admin", description="Username of the first admin, created at first start.")
    admin_password: str = Field("", description="Password of the first admin. Empty: generated and printed once.")
    session_max_age_seconds: int = Field(60 * 60 * 12, ge=60, description="Browser session lifetime.")
    api_token_max_age_seconds: int = Field(60 * 60 * 24 * 30, ge=60, description="Bearer token lifetime.")
    cookie_secure: Literal["auto", "always", "never"] = Field(
        "auto", description="auto: Secure cookie when the request arrived over HTTPS (X-Forwarded-Proto honoured)."
    )
    login_max_failures_per_account: int = Field(
        5, ge=1, description="Failed logins for one account from one address within the window after which "
        "each further attempt from that address waits (1 s, doubling); other addresses are not slowed."
    )
    login_max_failures_per_ip: int = Field(
        20, ge=1, description="Failed logins from one address (any accounts) within the window after which every "
        "attempt from it waits (1 s, doubling)."
    )
    login_failure_window_seconds: int = Field(
        15 * 60, ge=10, description="Window for failed-login counting (and the longest wait)."
    )
    max_request_body_bytes: int = Field(
        8 * 1024 * 1024, ge=64 * 1024, description="Largest request body of any route, enforced while it streams "
        "(chunked or not), before parsing. The keyword import (200 MB) and competitor import (2 MB) have their own."
    )
    forwarded_allow_ips: str = Field("127.0.0.1", description="Proxies whose X-Forwarded-* headers are trusted.")

    # --- AI providers --------------------------------------------------------------------------------------
    text_provider: str = Field("offline", description="offline | simulated | openai | anthropic | gemini")
    image_provider: str = Field("offline", description="offline | simulated | openai | gemini")
    text_model: str = Field("", description="Model for persona text. Empty: the provider's default.")
    image_model: str = Field("", description="Model for portraits. Empty: the provider's default.")
    analysis_model: str = Field("", description="Model for the timeline and competitor analyses. Empty: text_model.")
    fallback_text_provider: str = Field("", description="Provider tried when the text provider fails.")
    fallback_image_provider: str = Field("", description="Provider tried when the image provider fails.")
    provider_timeout_seconds: float = Field(120.0, gt=0, description="Deadline of one AI call.")
    provider_stream_idle_seconds: float = Field(
        60.0, gt=0, description="A text stream that sends nothing for this long fails as a timeout."
    )
    provider_max_retries: int = Field(
        2, ge=0, le=10, description="Retries of a failed AI call (429/5xx/timeouts; Retry-After honoured)."
    )
    # A generation makes two text calls at once (the persona text and its timeline analysis): 256 held the
    # analyses of a 200-generation burst back until the first texts ended (+3 s on every one of them).
    provider_max_concurrency: int = Field(
        512, ge=1, description="Concurrent calls per provider per worker, text and images counted apart.")
    simulated_text_seconds: float = Field(3.0, ge=0, description="Latency of the simulated text provider.")
    simulated_image_seconds: float = Field(
        5.0, ge=0, description="Latency of the simulated image provider."
    )

    generation_deadline_seconds: float = Field(
        240.0, gt=0, description="A generation step (text, portrait, analysis) that fails with a temporary error "
        "(429, 5xx, timeout) is tried again, with backoff, until this long after its job started."
    )
    provider_circuit_failures: int = Field(
        8, ge=2, description="Failed calls (429/5xx/timeouts) within 30 s, and at least half of the calls, after "
        "which a provider is skipped for a cool-down (its circuit opens; the fallback provider answers meanwhile)."
    )
    provider_circuit_cooldown_seconds: float = Field(
        15.0, gt=0, description="How long an open circuit skips the provider before one trial call."
    )

    # --- portraits (shared by every instance) -------------------------------------------------------------
    portrait_storage: Literal["database", "s3"] = Field(
        "database", description="Where portraits are kept: database (the one every instance shares) or s3 "
        "(an S3-compatible bucket; keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)."
    )
    s3_bucket: str = Field("", description="Bucket for portraits when portrait_storage=s3.")
    s3_endpoint_url: str = Field("", description="S3-compatible endpoint (MinIO, R2, ...). Empty: AWS S3.")
    s3_region: str = Field("us-east-1", description="Region of the bucket.")
    s3_prefix: str = Field("portraits/", description="Key prefix of portraits in the bucket.")
    media_base_url: str = Field(
        "", description="Public origin that serves /media/ (a CDN in front of this app), e.g. "
        "https://cdn.example.com. Empty: this server."
    )

    # --- competitor analysis ------------------------------------------------------------------------------
    google_places_api_key: SecretStr | None = Field(
        None, description="Google Places API (New) key for competitor search and geocoding (kept on the server). "
        "Empty: competitors come from an imported list."
    )
    google_places_base_url: str = Field("https://places.googleapis.com", description="Places API (New) base URL.")
    estat_app_id: str = Field("", description="e-Stat API application id (population by age). Empty: entered by hand.")
    estat_base_url: str = Field(
        "https://api.e-stat.go.jp/rest/3.0/app/json", description="e-Stat API 3.0 JSON base URL."
    )
    estat_stats_data_id: str = Field(
        "", description="e-Stat statsDataId of the census table with population by age and municipality."
    )
    places_timeout_seconds: float = Field(15.0, gt=0, description="Deadline of one Places / e-Stat request.")
    map_tile_url: str = Field(
        "https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png",
        description="Basemap tiles of the competitor maps ({z}/{x}/{y}, optional {s}); the page CSP allows exactly "
        "this host. Empty: no basemap, the map drawn by our own code instead.",
    )
    map_tile_attribution: str = Field("地理院タイル", description="Attribution shown on the map for the basemap.")
    map_tile_attribution_url: str = Field(
        "https://maps.gsi.go.jp/development/ichiran.html", description="Link of the basemap attribution."
    )

    # --- jobs ----------------------------------------------------------------------------------------------
    job_lease_seconds: float = Field(30.0, gt=1, description="A running job whose lease is older is taken over.")
    job_max_concurrency: int = Field(500, ge=1, description="Jobs one worker runs at once.")
    job_max_running_per_user: int = Field(
        8, ge=0, description="Jobs of one user running at once (0: no cap); queued jobs are claimed in turns "
        "across users (each user's oldest first), so one user's burst does not delay the others."
    )
    sse_max_streams_per_user: int = Field(
        20, ge=0, description="Event streams (progress pages) one user may hold open at once in one worker (0: no cap)."
    )
    job_poll_seconds: float = Field(0.5, gt=0, description="How often idle workers look for queued jobs.")

    # --- exports -------------------------------------------------------------------------------------------
    export_workers: int = Field(1, ge=1, le=8, description="Processes in the export (PDF/PPTX) pool.")
    export_idle_seconds: float = Field(
        600.0, ge=0, description="Stop the export processes (~130 MB each) after this long without exports; 0: never."
    )

    # --- operations ----------------------------------------------------------------------------------------
    metrics_token: str = Field("", description="Bearer token Prometheus may use to scrape /metrics.")
    log_json: bool = Field(False, description="Log as JSON lines.")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR.")
    memory_limit_mb: int = Field(0, ge=0, description="The box's memory limit for the monitoring page. 0: detect.")
    # Read by the gunicorn config and advise-workers (ops/advisor.py) from the same variables.
    worker_rss_mb: float = Field(
        0, ge=0, description="Worker memory for the seed's formula. 0: last advise-workers measurement, else 600."
    )
    peak_users: int = Field(50, ge=0, description="Peak concurrent users for the seed's formula (users / 10).")

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from medipersona.localtime import parse_zone

        return parse_zone(value or "Asia/Tokyo").key

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        """PaaS connection strings (Render, Heroku: ``postgres://`` / ``postgresql://``) get the asyncpg driver."""
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+asyncpg://" + value[len(prefix):]
        return value

    @field_validator("map_tile_url", "map_tile_attribution_url")
    @classmethod
    def _tile_url(cls, value: str, info) -> str:
        """http(s) URLs only (the browser loads them); a tile template must name {z}, {x} and {y}."""
        value = value.strip()
        if not value:
            return value
        if not re.fullmatch(r"https?://[A-Za-z0-9.\-{}]+(:\d+)?(/[^\s\"'<>\\]*)?", value):
            raise ValueError("must be an http:// or https:// URL without spaces or quotes")
        if info.field_name == "map_tile_url" and not all(p in value for p in ("{z}", "{x}", "{y}")):
            raise ValueError("must contain {z}, {x} and {y}")
        return value

    @property
    def map_tile_origin(self) -> str:
        """The scheme and host of the tiles for the CSP (``{s}`` subdomains become ``*.``); '' without tiles."""
        if not self.map_tile_url:
            return ""
        scheme, rest = self.map_tile_url.split("://", 1)
        host = rest.split("/", 1)[0].replace("{s}.", "*.")
        return f"{scheme}://{host}"

    @property
    def places_configured(self) -> bool:
        return bool(self.google_places_api_key and self.google_places_api_key.get_secret_value().strip())

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'medipersona.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def images_dir(self) -> Path:
        return self.data_dir / "images"


@lru_cache
def get_settings() -> Settings:
    return Settings()
