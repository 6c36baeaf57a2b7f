"""SIGKILL in the middle of `embedkit index` loses nothing committed and leaves a working store."""

import os
import signal
import subprocess
import sys

from embedkit import VectorStore

TOPICS = ["rivers and lakes", "mountain climbing", "baking bread", "electric motors", "jazz music",
          "ancient history", "ocean tides", "chess openings"]


def _corpus(root, n_files=24):
    root.mkdir()
    for i in range(n_files):
        topic = TOPICS[i % len(TOPICS)]
        sentences = [f"Paragraph {j} of note {i} is about {topic} and detail number {j * i}."
                     for j in range(40)]
        (root / f"note{i:02d}.txt").write_text(" ".join(sentences), encoding="utf-8")


def _index(root, store, kill_after=None):
    """Run the real CLI; SIGKILL it right after it reports `kill_after` committed files."""
    cmd = [sys.executable, "-m", "embedkit", "index", str(root), "--store", str(store),
           "--chunk-tokens", "64", "--batch-chunks", "24", "--verbose"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    committed = []
    for line in proc.stdout:
        if line.startswith(("added ", "updated ")):
            committed.append(line.split(" ", 1)[1].strip())
            if kill_after is not None and len(committed) >= kill_after:
                proc.send_signal(signal.SIGKILL)
                break
    proc.stdout.close()
    code = proc.wait(timeout=300)
    return code, committed


def _check_consistent(store_path):
    with VectorStore(store_path, create=False) as store:
        assert store.integrity_check() == []
        sources = store.sources()
        total = 0
        for source in sources:
            n = store.source_state(source).n_items
            assert n > 0 and store.count(where={"source": source}) == n, source
            total += n
        assert store.count() == total  # no orphan chunks of half-indexed files
        if total:
            assert store.search("paragraph", mode="keyword", k=3)
            assert len(store.search(store.get([f"{sources[0]}#0"])[0].vector, k=3)) == 3
        return set(sources)


def test_sigkill_during_index_keeps_committed_work(tmp_path):
    root, store = tmp_path / "notes", tmp_path / "store.db"
    _corpus(root)
    done: set[str] = set()
    for kill_after in (1, 3, 2, 5):  # several kills, each at a different point of a fresh run
        code, committed = _index(root, store, kill_after)
        assert code == -signal.SIGKILL
        done |= set(committed)
        indexed = _check_consistent(store)
        assert done <= indexed  # every file reported as committed survived the kill
    code, _ = _index(root, store)
    assert code == 0
    assert len(_check_consistent(store)) == 24
