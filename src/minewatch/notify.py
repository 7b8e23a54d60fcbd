"""Telling someone when a night goes wrong: webhooks (generic JSON, DingTalk, WeCom robots) and email.

Three events (settings section `notify`):

- the night failed: every mine failed, or the flow stopped before its outputs were written;
- a mine failed tonight and in the previous run too (read from that run's run_summary.json);
- new high-severity anomalies: `severity` high and `status` new in tonight's anomalies.geojson.

One message per night lists them all. Sending is best effort: a channel that fails is logged
and the night goes on (`notify_night` never raises).
"""
from __future__ import annotations

import json
import logging
import smtplib
import ssl
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from minewatch.config import EmailSettings, NotifySettings, WebhookSettings
from minewatch.labels import TYPES_ZH
from minewatch.ops import failure_text, night_failed
from minewatch.outputs.runfolder import previous_run

__all__ = ["Event", "Message", "events", "message", "notify_crash", "notify_night", "payload",
           "send_email", "send_webhook"]

log = logging.getLogger("minewatch")

NIGHT_FAILED, REPEAT_FAILURE, NEW_HIGH = "night_failed", "repeat_failure", "new_high"
TITLES_ZH = {NIGHT_FAILED: "夜间运行失败", REPEAT_FAILURE: "矿山连续两晚运行失败", NEW_HIGH: "新增高等级异常"}


@dataclass(frozen=True)
class Event:
    kind: str                         # NIGHT_FAILED | REPEAT_FAILURE | NEW_HIGH
    items: tuple[str, ...] = ()       # one line per mine or anomaly
    detail: str = ""


@dataclass(frozen=True)
class Message:
    title: str
    text: str                         # Markdown (DingTalk and WeCom render it; plain enough for email)
    run_date: str
    events: tuple[Event, ...]


def _failed_licences(summary: dict | None) -> dict[str, str]:
    return {f["license_no"]: f.get("mine_name", "") for f in (summary or {}).get("failures") or []}


def events(summary: dict, previous: dict | None, anomalies: dict | None, cfg: NotifySettings) -> list[Event]:
    """What tonight's summary, the previous run's summary and tonight's anomalies call for."""
    out: list[Event] = []
    if cfg.on_night_failed and night_failed(summary):
        out.append(Event(NIGHT_FAILED, detail=f"全部 {summary.get('mines', 0)} 座矿山失败 all mines failed"))
    if cfg.on_repeat_failure:
        before = _failed_licences(previous)
        again = sorted(lic for lic in _failed_licences(summary) if lic in before)
        errors = {f["license_no"]: f.get("error", "") for f in summary.get("failures") or []}
        if again:
            out.append(Event(REPEAT_FAILURE, tuple(f"{lic} {before[lic]}: {errors.get(lic, '')}" for lic in again),
                             detail=f"上次运行 previous run {previous.get('run_date', '?') if previous else '?'}"))
    if cfg.on_new_high and anomalies:
        high = [f["properties"] for f in anomalies.get("features") or []
                if f.get("properties", {}).get("severity") == "high" and f["properties"].get("status") == "new"]
        if high:
            out.append(Event(NEW_HIGH, tuple(
                f"{p.get('license_no', '')} {p.get('mine_name', '')}: "
                f"{p.get('type_zh') or TYPES_ZH.get(p.get('type', ''), '')} ({p.get('type', '')})"
                + (f", {p['area_hm2']:.4f} hm²" if isinstance(p.get("area_hm2"), (int, float)) else "")
                for p in high)))
    return out


def message(summary: dict, evs: list[Event], cfg: NotifySettings) -> Message:
    run_date = str(summary.get("run_date", "?"))
    kinds = "、".join(TITLES_ZH[e.kind] for e in evs)
    title = f"minewatch {run_date}: {kinds}"
    lines = [f"### {title}", "",
             f"矿山 mines {summary.get('mines', 0)}, 失败 failed {summary.get('mines_failed', 0)}, "
             f"异常 anomalies {summary.get('anomalies', 0)}", ""]
    for e in evs:
        lines.append(f"**{TITLES_ZH[e.kind]}** ({e.kind}){': ' + e.detail if e.detail else ''}")
        lines += [f"- {item}" for item in e.items[: cfg.max_listed]]
        if len(e.items) > cfg.max_listed:
            lines.append(f"- …… 另 {len(e.items) - cfg.max_listed} 项 more")
        lines.append("")
    if summary.get("run_dir"):
        lines.append(f"输出 outputs: {summary['run_dir']}")
    return Message(title, "\n".join(lines).rstrip() + "\n", run_date, tuple(evs))


def payload(fmt: str, msg: Message) -> dict[str, Any]:
    """The request body of one webhook format."""
    if fmt == "dingtalk":     # 钉钉自定义机器人: msgtype markdown, title + text
        return {"msgtype": "markdown", "markdown": {"title": msg.title, "text": msg.text}}
    if fmt == "wecom":        # 企业微信群机器人: msgtype markdown, content (4096 bytes at most)
        content = msg.text.encode("utf-8")[:4000].decode("utf-8", errors="ignore")
        return {"msgtype": "markdown", "markdown": {"content": content}}
    return {"source": "minewatch", "title": msg.title, "text": msg.text, "run_date": msg.run_date,
            "events": [{"kind": e.kind, "title_zh": TITLES_ZH[e.kind], "detail": e.detail, "items": list(e.items)}
                       for e in msg.events]}


def send_webhook(w: WebhookSettings, msg: Message) -> None:
    """POST the message; raises on a transport error, a non-2xx answer or a robot's errcode."""
    body = json.dumps(payload(w.format, msg), ensure_ascii=False).encode("utf-8")
    req = urllib.request.Request(w.url, data=body, method="POST",
                                 headers={"Content-Type": "application/json; charset=utf-8"})
    with urllib.request.urlopen(req, timeout=w.timeout_s) as resp:   # noqa: S310 - the operator's URL
        answer = resp.read(65536)
    if w.format in ("dingtalk", "wecom"):   # both robots answer 200 with {"errcode": 0, ...} on success
        try:
            code = json.loads(answer or b"{}").get("errcode", 0)
        except ValueError:
            code = None
        if code != 0:
            raise RuntimeError(f"robot refused the message: {answer[:200]!r}")


def send_email(e: EmailSettings, msg: Message) -> None:
    m = EmailMessage()
    m["Subject"] = msg.title
    m["From"] = e.sender
    m["To"] = ", ".join(e.to)
    m.set_content(msg.text)
    smtp_cls = smtplib.SMTP_SSL if e.security == "ssl" else smtplib.SMTP
    with smtp_cls(e.host, e.port, timeout=e.timeout_s) as smtp:
        if e.security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if e.username:
            smtp.login(e.username, e.password or "")
        smtp.send_message(m)


def deliver(msg: Message, cfg: NotifySettings) -> list[str]:
    """Every configured channel; returns those that took the message. Failures are logged only."""
    sent: list[str] = []
    channels: list[tuple[str, Any]] = [(f"webhook {w.format} {w.url.split('?')[0]}", lambda w=w: send_webhook(w, msg))
                                       for w in cfg.webhooks]
    if cfg.email is not None:
        channels.append((f"email {cfg.email.host}:{cfg.email.port}", lambda: send_email(cfg.email, msg)))
    for name, send in channels:
        try:
            send()
            sent.append(name)
            log.info("notification sent: %s (%s)", name, msg.title)
        except Exception as e:  # noqa: BLE001 - telling someone must never fail the night
            log.warning("notification failed: %s: %s", name, failure_text(e))
    return sent


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def notify_night(summary: dict, out_dir: str | Path, cfg: NotifySettings) -> list[str]:
    """After the outputs are written: the events of this night, sent. Never raises."""
    if not cfg.webhooks and cfg.email is None:
        return []
    try:
        from datetime import date

        prev_dir = previous_run(out_dir, date.fromisoformat(str(summary["run_date"])))
        previous = _read_json(prev_dir / "run_summary.json") if prev_dir else None
        run_dir = Path(summary.get("run_dir") or Path(out_dir) / str(summary["run_date"]))
        anomalies = _read_json(run_dir / "anomalies.geojson")
        evs = events(summary, previous, anomalies, cfg)
        return deliver(message(summary, evs, cfg), cfg) if evs else []
    except Exception as e:  # noqa: BLE001
        log.warning("notifications not sent: %s", failure_text(e))
        return []


def notify_crash(run_date: str, error: BaseException, cfg: NotifySettings) -> list[str]:
    """The night stopped before its outputs (registry unreadable, disk full, cluster gone)."""
    if not cfg.webhooks and cfg.email is None or not cfg.on_night_failed:
        return []
    try:
        summary = {"run_date": run_date, "mines": 0, "mines_failed": 0, "anomalies": 0}
        ev = Event(NIGHT_FAILED, detail=f"运行中止 the night stopped: {failure_text(error)}")
        return deliver(message(summary, [ev], cfg), cfg)
    except Exception as e:  # noqa: BLE001
        log.warning("notifications not sent: %s", failure_text(e))
        return []
