"""ops.Progress: mines done of the total, failures, scenes, time left; a line every N mines or M seconds."""
from __future__ import annotations

import io

from minewatch import ops


class Result:
    def __init__(self, scenes: int, error: str | None = None) -> None:
        self.scenes = ["s"] * scenes
        self.error = error


def test_a_line_every_n_mines_or_m_seconds_and_at_the_end():
    t = [0.0]
    p = ops.Progress(total=10, every_mines=4, every_s=100.0, clock=lambda: t[0])
    lines = []
    for k in range(10):
        t[0] += 5.0                                           # 5 s a mine
        if k == 6:
            t[0] += 200.0                                     # a slow mine: the time rule fires
        r = RuntimeError("x") if k == 2 else Result(scenes=3, error="NO_SCENES" if k == 5 else None)
        line = p.update(r)
        if line:
            lines.append((p.done, line))
    assert [n for n, _ in lines] == [4, 7, 10]
    n, first = lines[0]
    # 4 mines in 20 s: 6 left at 5 s each = 30 s
    assert first == ("进度 progress: 4/10 座矿山 mines, 9 景影像 scenes, 1 失败 failed, "
                     "预计剩余 time left 0:00:30")
    assert "2 失败 failed" in lines[1][1] and lines[-1][1].endswith("time left 0:00:00")
    assert p.fraction == 100.0 and p.scenes == 27


def test_live_line_rewrites_one_terminal_line():
    buf = io.StringIO()
    ops.live_line("1/2", buf)
    ops.live_line("2/2", buf, final=True)
    assert buf.getvalue() == "\r\x1b[K1/2\r\x1b[K2/2\n"
