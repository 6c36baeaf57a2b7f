"""Progress off a terminal: log lines on a timer, silence for short work, a bar on a terminal."""

import io
import threading

import pytest

from embedkit.progress import (
    LogProgress, format_count, format_duration, format_rate, log_interval, progress)


class _Lines(io.StringIO):
    """A stream that signals each line written, so tests wait on the event, not on a clock."""

    def __init__(self):
        super().__init__()
        self.written = threading.Event()

    def write(self, s):
        n = super().write(s)
        self.written.set()
        return n


def test_line_reports_done_total_rate_eta_and_postfix():
    p = LogProgress(total=2_000_000, desc="train", unit="words", unit_scale=True, interval=3600,
                    stream=io.StringIO())
    p.update(500_000)
    p.set_postfix_str("loss 2.5000")
    line = p.line()
    p.close()
    assert line.startswith("[embedkit] train: 500.0k/2.0M words (25%)")
    assert "words/s" in line and "ETA" in line and line.endswith("loss 2.5000")


def test_timer_writes_lines_while_work_runs_and_a_last_line_at_the_end():
    stream = _Lines()
    p = LogProgress(total=10, desc="index", unit="files", interval=0.01, stream=stream)
    p.update(3)
    assert stream.written.wait(10), "no progress line within 10 s at a 0.01 s interval"
    p.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 2
    assert all(line.startswith("[embedkit] index: ") for line in lines)
    assert lines[-1].endswith("done") and "3/10 files" in lines[-1]


def test_short_work_prints_nothing():
    stream = io.StringIO()
    with LogProgress(total=5, desc="x", interval=3600, stream=stream) as p:
        p.update(5)
    assert stream.getvalue() == ""


def test_rate_in_postfix_leaves_the_own_rate_out():
    p = LogProgress(total=100, desc="train", unit="words", interval=3600, stream=io.StringIO(),
                    rate_in_postfix=True)
    p.update(10)
    p.set_postfix_str("loss 1.0, 5k words/s")
    line = p.line()
    p.close()
    assert line.count("words/s") == 1


def test_progress_picks_log_lines_off_a_terminal_and_nothing_when_disabled(capsys):
    p = progress(3, "x", enabled=None)  # pytest's stderr is not a terminal
    assert isinstance(p, LogProgress)
    p.close()
    q = progress(3, "x", enabled=False)
    q.update(3)
    q.close()
    assert not isinstance(q, LogProgress)


@pytest.mark.parametrize("raw, want", [("", 30.0), ("2.5", 2.5), ("-1", 30.0), ("nan", 30.0),
                                       ("soon", 30.0)])
def test_interval_from_environment(monkeypatch, raw, want):
    monkeypatch.setenv("EMBEDKIT_PROGRESS_INTERVAL", raw)
    assert log_interval() == want


def test_formatting():
    assert format_count(1_234_567, True) == "1.2M"
    assert format_count(1_234_567, False) == "1,234,567"
    assert format_duration(3725) == "1:02:05"
    assert format_duration(None) == "?"
    # slow training steps: never "0 step/s"
    assert format_rate(612_345, "words", True) == "612.3k words/s"
    assert format_rate(0.87, "step", False) == "0.87 step/s"
    assert format_rate(2.34, "step", False) == "2.3 step/s"
    assert format_rate(0.08, "step", False) == "12.5 s/step"
    assert format_rate(0.0, "step", False) == "0 step/s"


def test_word2vec_off_a_terminal_logs_tokenising_and_training(tmp_path, monkeypatch):
    """The whole point of issue 16: a run whose output goes to a log file says what it does."""
    from embedkit.text.word2vec import Word2Vec

    stream = _Lines()
    monkeypatch.setattr("sys.stderr", stream)
    monkeypatch.setenv("EMBEDKIT_PROGRESS_INTERVAL", "0.01")
    path = tmp_path / "c.txt"
    path.write_text("the cat sat\nthe dog sat\n" * 200, encoding="utf-8")

    def slow_tokenizer(text):  # the first line waits until the tokenising phase has logged
        if not stream.written.is_set():
            assert stream.written.wait(10)
        return text.split()

    slow_tokenizer.cache_key = "test-slow-whitespace"

    def after_epoch(epoch, loss):  # the training phase logs while an epoch's callback runs
        if epoch == 0:
            stream.written.clear()
            assert stream.written.wait(10)

    Word2Vec(vector_size=8, min_count=1, epochs=2, workers=1, tokenizer=slow_tokenizer,
             token_cache=tmp_path / "cache").fit(path, callback=after_epoch)
    lines = stream.getvalue().splitlines()
    assert any(line.startswith("[embedkit] tokenise: ") and " B" in line for line in lines)
    train = [line for line in lines if line.startswith("[embedkit] Word2Vec: ")]
    assert train and "words" in train[0] and "epoch" in train[-1]
