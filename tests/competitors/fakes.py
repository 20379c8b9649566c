"""Local fake HTTP servers (real sockets, a thread each) standing in for Google Places API (New) and e-Stat.

Each records the requests it got; responses come from per-path handlers the test sets (a list of responses
is served in order, the last one repeating)."""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

LAT0, LNG0 = 35.681236, 139.767125


def offset(north_m: float, east_m: float) -> tuple[float, float]:
    """A point ``north_m`` / ``east_m`` metres from (LAT0, LNG0) (small distances)."""
    return (LAT0 + north_m / 111_195.0, LNG0 + east_m / (111_195.0 * math.cos(math.radians(LAT0))))


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeServer:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.routes: dict[str, list[Reply]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                server.requests.append(Recorded(self.command, parts.path, parse_qs(parts.query),
                                                {k.lower(): v for k, v in self.headers.items()}, body))
                replies = server.routes.get(parts.path)
                if not replies:
                    reply = Reply(404, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}})
                else:
                    reply = replies.pop(0) if len(replies) > 1 else replies[0]
                if callable(reply):  # a handler that answers from the request (the Places stand-in)
                    reply = reply(server.requests[-1])
                data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = _serve
            do_POST = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def on(self, path: str, *replies) -> None:
        """Replies served in order (the last repeats); a reply may be a callable ``(Recorded) -> Reply``."""
        self.routes[path] = list(replies)

    def calls(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def place(pid: str, name: str, north_m: float, east_m: float, **extra) -> dict[str, Any]:
    lat, lng = offset(north_m, east_m)
    return {"id": pid, "displayName": {"text": name, "languageCode": "ja"}, "formattedAddress": f"東京都千代田区 {name}",
            "location": {"latitude": lat, "longitude": lng}, "primaryType": "doctor", "types": ["doctor", "health"],
            **extra}


NEARBY = "/v1/places:searchNearby"
TEXT = "/v1/places:searchText"
STATS = "/getStatsData"
META = "/getMetaInfo"

# --- e-Stat ------------------------------------------------------------------------------------------------
AGE_CLASSES = [("000", "総数"), ("001", "0～4歳"), ("002", "5～9歳"), ("003", "10～14歳"), ("004", "15～64歳"),
               ("005", "65～69歳"), ("006", "70～74歳"), ("007", "75歳以上"), ("008", "（再掲）15歳未満"),
               ("009", "（再掲）65歳以上")]
AGE_VALUES = {"000": 67000, "001": 2000, "002": 2500, "003": 3000, "004": 45000, "005": 4000, "006": 3500,
              "007": 6000, "008": 7500, "009": 13500}


def stats_data(area_code: str = "13101", *, values: dict[str, Any] | None = None, status: int = 0,
               single_area_class: bool = False, age_classes: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """A getStatsData JSON answer: table item × sex × age × area × time, values for two sexes and the total."""
    values = AGE_VALUES if values is None else values
    area_classes = {"@code": area_code, "@name": "千代田区", "@level": "3", "@parentCode": "13000"}
    area_obj = {"@id": "area", "@name": "地域", "CLASS": area_classes if single_area_class else
                [{"@code": "13000", "@name": "東京都", "@level": "2"}, area_classes]}
    value_rows = []
    for sex, factor in (("0", 1.0), ("1", 0.48), ("2", 0.52)):
        for code, number in values.items():
            value_rows.append({"@tab": "020", "@cat01": sex, "@cat02": code, "@area": area_code, "@time": "2020000000",
                               "@unit": "人", "$": str(round(number * factor)) if isinstance(number, int) else number})
    # An older year with other numbers: must not be mixed in.
    value_rows.append({"@tab": "020", "@cat01": "0", "@cat02": "001", "@area": area_code, "@time": "2015000000",
                       "$": "99999"})
    root: dict[str, Any] = {"RESULT": {"STATUS": status, "ERROR_MSG": "正常に終了しました。" if status == 0 else "エラー"}}
    if status == 0:
        root["STATISTICAL_DATA"] = {
            "TABLE_INF": {"@id": "0003445139", "TITLE": {"@no": "001", "$": "男女，年齢（5歳階級）別人口"}},
            "CLASS_INF": {"CLASS_OBJ": [
                {"@id": "tab", "@name": "表章項目", "CLASS": {"@code": "020", "@name": "人口", "@unit": "人"}},
                {"@id": "cat01", "@name": "男女", "CLASS": [{"@code": "0", "@name": "総数"}, {"@code": "1", "@name": "男"},
                                                           {"@code": "2", "@name": "女"}]},
                {"@id": "cat02", "@name": "年齢", "CLASS": [{"@code": c, "@name": n}
                                                          for c, n in (age_classes or AGE_CLASSES)]},
                area_obj,
                {"@id": "time", "@name": "時間軸（年）", "CLASS": [{"@code": "2015000000", "@name": "2015年"},
                                                            {"@code": "2020000000", "@name": "2020年"}]},
            ]},
            "DATA_INF": {"VALUE": value_rows},
        }
    return {"GET_STATS_DATA": root}


def meta_info() -> dict[str, Any]:
    return {"GET_META_INFO": {"RESULT": {"STATUS": 0, "ERROR_MSG": "正常に終了しました。"},
                              "METADATA_INF": {"CLASS_INF": {"CLASS_OBJ": [
                                  {"@id": "area", "@name": "地域", "CLASS": [
                                      {"@code": "13000", "@name": "東京都"},
                                      {"@code": "13101", "@name": "千代田区"},
                                      {"@code": "13102", "@name": "中央区"},
                                      {"@code": "27128", "@name": "大阪市中央区"},
                                      {"@code": "01101", "@name": "札幌市中央区"},
                                  ]}]}}}}
