"""Ray batch embedding: a local Ray runtime started and stopped by this module; the CLI's --ray."""

import csv
import json
import socket
import time

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from embedkit import VectorStore
from embedkit.cli import main
from embedkit.errors import BackendUnavailable, InvalidInput
from embedkit.scale import embed_dataset
from embedkit.text.hashing import HashingEncoder


@pytest.fixture(scope="module")
def local_ray():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def inputs(tmp_path):
    jl = tmp_path / "a.jsonl"
    jl.write_text("".join(json.dumps({"text": f"review {i} of a red car", "doc": f"j{i}", "stars": i % 5},
                                     ensure_ascii=False) + "\n" for i in range(120)), encoding="utf-8")
    cv = tmp_path / "b.csv"
    with open(cv, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["body", "doc"])
        w.writerows([[f"자동차 {i} 리뷰", f"c{i}"] for i in range(50)])
    return jl, cv


def _read(path):
    table = pq.read_table(path)
    return table, np.stack(table.column("vector").to_numpy(zero_copy_only=False))


def test_embed_dataset_two_actors_matches_one_process(local_ray, inputs, tmp_path):
    jl, cv = inputs
    enc = HashingEncoder(dim=64)
    out, db = tmp_path / "v.parquet", tmp_path / "v.db"
    report = embed_dataset([jl], out, store=db, model=enc, num_actors=2, batch_size=16, progress=False)
    assert report["rows"] == 120 and report["dim"] == 64 and report["num_actors"] == 2
    table, vectors = _read(out)
    texts = table.column("text").to_pylist()
    assert texts == [f"review {i} of a red car" for i in range(120)]  # input order kept
    assert table.column("id").to_pylist() == list(range(120))
    np.testing.assert_allclose(vectors, enc.encode(texts), atol=1e-6)
    assert json.loads(table.column("metadata")[7].as_py()) == {"doc": "j7", "stars": 2}
    assert table.schema.metadata[b"model"] == b"hashing-64"
    with VectorStore(db, create=False) as s:  # the same rows added to a store, model recorded
        assert s.count() == 120 and s.model == "hashing-64"
        assert s.get(["7"])[0].metadata == {"doc": "j7", "stars": 2}
    with pytest.raises(InvalidInput, match="no 'text' column"):
        embed_dataset([cv], out, model=enc, progress=False)
    assert _read(out)[0].num_rows == 120  # a failed run leaves the earlier file as it was


def test_cli_embed_ray_csv_into_milvus_lite(local_ray, inputs, tmp_path, tiny_st_model):
    _, cv = inputs
    out, url = tmp_path / "cli.parquet", f"milvus-lite://{tmp_path}/m.db"
    runner = CliRunner()
    result = runner.invoke(main, ["embed", "--ray", "--backend", "torch", "-m", str(tiny_st_model),
                                  "--text-field", "body", "--id-field", "doc", "--batch-size", "32",
                                  str(cv), "-o", str(out), "--store", url])
    assert result.exit_code == 0, result.output
    assert "embedded 50 texts" in result.output
    table, vectors = _read(out)
    assert table.num_rows == 50 and table.column("id").to_pylist()[:2] == ["c0", "c1"]
    from embedkit import load

    single = load(str(tiny_st_model)).encode(table.column("text").to_pylist()[:5])
    np.testing.assert_allclose(vectors[:5], single, atol=1e-5)
    with VectorStore(url, create=False) as s:
        assert s.count() == 50 and s.get(["c3"])[0].text == "자동차 3 리뷰"
        assert [h.id for h in s.search("자동차 3", mode="keyword", k=1)] == ["c3"]
    bad = runner.invoke(main, ["embed", "--ray", str(cv)])
    assert bad.exit_code == 2 and "error: --ray needs -o OUT.parquet" in bad.output
    bad = runner.invoke(main, ["embed", "--num-actors", "2", str(cv)])
    assert bad.exit_code == 2 and "--num-actors need(s) --ray" in bad.output


def test_unreachable_ray_address_fails_fast(inputs, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    t0 = time.monotonic()
    with pytest.raises(BackendUnavailable, match=f"cannot reach a Ray cluster at 127.0.0.1:{port}"):
        embed_dataset([inputs[0]], tmp_path / "x.parquet", model=HashingEncoder(dim=8),
                      address=f"127.0.0.1:{port}")
    assert time.monotonic() - t0 < 5
    result = CliRunner().invoke(main, ["embed", "--ray", "--address", f"127.0.0.1:{port}", str(inputs[0]),
                                       "-o", str(tmp_path / "x.parquet")])
    assert result.exit_code == 4 and result.output.startswith("error: cannot reach a Ray cluster")
    assert not (tmp_path / "x.parquet").exists()
