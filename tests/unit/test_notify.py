"""Notifications: the three events, the webhook formats against a real HTTP receiver on
127.0.0.1, email through a local SMTP sink (aiosmtpd), and a failing channel that never
fails the night."""
from __future__ import annotations

import json
from contextlib import ExitStack
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from tests.support.loopback import loopback_server

from minewatch import notify
from minewatch.config import EmailSettings, NotifySettings, WebhookSettings


class Receiver:
    """An HTTP server on 127.0.0.1 that keeps every POST and answers like a robot."""

    def __init__(self, answer: dict | None = None, status: int = 200) -> None:
        self.bodies: list[dict] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                outer.bodies.append({"path": self.path, "type": self.headers["Content-Type"],
                                     "json": json.loads(raw.decode("utf-8"))})
                data = json.dumps(answer if answer is not None else {"errcode": 0, "errmsg": "ok"}).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._stack = ExitStack()
        self.srv, self.url = self._stack.enter_context(loopback_server(H))

    def close(self) -> None:
        self._stack.close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def smtp_sink():
    from aiosmtpd.controller import Controller

    class Sink:
        def __init__(self) -> None:
            self.messages: list = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
            self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
            return "250 OK"

    import socket

    with socket.socket() as s:              # a free port: the controller probes the one it is given
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = Sink()
    ctl = Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        yield sink, port
    finally:
        ctl.stop()


def _feature(lic: str, severity: str, status: str, kind: str = "UNDECLARED_DISTURBANCE") -> dict:
    return {"type": "Feature", "id": f"{lic}-{kind}", "geometry": None,
            "properties": {"license_no": lic, "mine_name": "示例矿", "type": kind, "type_zh": "未申报损毁",
                           "severity": severity, "status": status, "area_hm2": 1.23456}}


def _write_run(out: Path, day: str, failures: list[str], features: list[dict], mines: int = 3) -> dict:
    d = out / day
    d.mkdir(parents=True)
    summary = {"run_date": day, "plan_year": int(day[:4]), "mines": mines, "mines_failed": len(failures),
               "anomalies": len(features), "failures": [{"license_no": lic, "mine_name": f"矿{lic}",
                                                          "error": "CatalogError: boom"} for lic in failures]}
    (d / "anomalies.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}),
                                         encoding="utf-8")
    (d / "run_summary.json").write_text(json.dumps(summary, ensure_ascii=False), encoding="utf-8")
    return dict(summary, run_dir=str(d))


def test_events_repeat_failure_and_new_high_only(tmp_path):
    cfg = NotifySettings()
    _write_run(tmp_path, "2026-11-19", ["A", "B"], [])
    tonight = _write_run(tmp_path, "2026-11-20", ["B", "C"],
                         [_feature("A", "high", "new"), _feature("C", "high", "ongoing"),
                          _feature("D", "medium", "new")])
    prev = json.loads((tmp_path / "2026-11-19" / "run_summary.json").read_text(encoding="utf-8"))
    fc = json.loads((tmp_path / "2026-11-20" / "anomalies.geojson").read_text(encoding="utf-8"))
    evs = notify.events(tonight, prev, fc, cfg)
    assert [e.kind for e in evs] == [notify.REPEAT_FAILURE, notify.NEW_HIGH]
    assert evs[0].items == ("B 矿B: CatalogError: boom",)            # C failed only tonight, A only before
    assert len(evs[1].items) == 1
    assert evs[1].items[0].startswith("A 示例矿: 未申报损毁") and "1.2346 hm²" in evs[1].items[0]
    # nothing to say: no event, no message
    assert notify.events(dict(tonight, failures=[]), prev, {"features": []}, cfg) == []
    # every mine failed: the night failed
    assert notify.events(dict(tonight, mines_failed=3), None, None, cfg)[0].kind == notify.NIGHT_FAILED


@pytest.mark.parametrize("fmt", ["json", "dingtalk", "wecom"])
def test_webhook_formats_reach_a_real_receiver(tmp_path, receiver, fmt):
    cfg = NotifySettings(webhooks=(WebhookSettings(url=receiver.url + "/robot/send?access_token=t", format=fmt),))
    _write_run(tmp_path, "2026-11-19", ["B"], [])
    tonight = _write_run(tmp_path, "2026-11-20", ["B"], [_feature("A", "high", "new")])
    sent = notify.notify_night(tonight, tmp_path, cfg)
    assert len(sent) == 1 and len(receiver.bodies) == 1
    got = receiver.bodies[0]
    assert got["path"] == "/robot/send?access_token=t" and got["type"].startswith("application/json")
    body = got["json"]
    if fmt == "dingtalk":
        assert body["msgtype"] == "markdown" and set(body["markdown"]) == {"title", "text"}
        text = body["markdown"]["text"]
    elif fmt == "wecom":
        assert body["msgtype"] == "markdown" and set(body["markdown"]) == {"content"}
        text = body["markdown"]["content"]
    else:
        assert body["source"] == "minewatch" and body["run_date"] == "2026-11-20"
        assert [e["kind"] for e in body["events"]] == ["repeat_failure", "new_high"]
        text = body["text"]
    assert "矿山连续两晚运行失败" in text and "新增高等级异常" in text and "B 矿B" in text


def test_email_through_a_local_smtp_sink(tmp_path, smtp_sink):
    sink, port = smtp_sink
    cfg = NotifySettings(email=EmailSettings(host="127.0.0.1", port=port, sender="minewatch@example.gov.cn",
                                             to=("duty@example.gov.cn", "chief@example.gov.cn")))
    tonight = _write_run(tmp_path, "2026-11-20", ["A", "B", "C"], [])
    assert notify.notify_night(tonight, tmp_path, cfg) == [f"email 127.0.0.1:{port}"]
    assert len(sink.messages) == 1
    rcpts, msg = sink.messages[0]
    assert rcpts == ["duty@example.gov.cn", "chief@example.gov.cn"]
    assert msg["Subject"] == "minewatch 2026-11-20: 夜间运行失败" and msg["From"] == "minewatch@example.gov.cn"
    assert "全部 3 座矿山失败" in msg.get_content()


def test_a_failing_channel_is_logged_and_the_others_still_get_it(tmp_path, receiver, caplog):
    refusing = Receiver(answer={"errcode": 310000, "errmsg": "keywords not in content"})
    try:
        cfg = NotifySettings(webhooks=(
            WebhookSettings(url="http://127.0.0.1:9/nobody", timeout_s=2),          # connection refused
            WebhookSettings(url=refusing.url, format="dingtalk"),                    # robot says no
            WebhookSettings(url=receiver.url, format="wecom")))
        tonight = _write_run(tmp_path, "2026-11-20", ["A", "B", "C"], [])
        with caplog.at_level("WARNING", logger="minewatch"):
            sent = notify.notify_night(tonight, tmp_path, cfg)
        assert sent == [f"webhook wecom {receiver.url}"] and len(receiver.bodies) == 1
        warned = [r.getMessage() for r in caplog.records if "notification failed" in r.getMessage()]
        assert len(warned) == 2 and "127.0.0.1:9" in warned[0] and "310000" in warned[1]
        # the night stopped before its outputs: told as well, and a broken config of the channel never raises
        assert notify.notify_crash("2026-11-20", OSError(28, "No space left on device"), cfg) == sent
    finally:
        refusing.close()
