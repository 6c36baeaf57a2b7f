"""``embedkit evaluate sts|retrieval|pairs`` driven in-process with click's CliRunner."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from embedkit.cli import main

STS_TSV = ("genre\tfilename\tyear\tid\tscore\tsentence1\tsentence2\n"
           "main\tx\t2012\t1\t5.0\ta dog runs\tthe dog runs\n"
           "main\tx\t2012\t2\t0.5\ta dog\tstock markets fell\n"
           "main\tx\t2012\t3\t3.0\ttwo dogs run\ta dog\n")


@pytest.fixture
def sts_file(tmp_path):
    path = tmp_path / "sts.tsv"
    path.write_text(STS_TSV, encoding="utf-8")
    return path


def test_sts_table_and_json(tiny_st_model, sts_file):
    runner = CliRunner()
    table = runner.invoke(main, ["evaluate", "sts", str(sts_file), "-m", str(tiny_st_model)])
    assert table.exit_code == 0, table.output
    assert "spearman" in table.output and "n=3" in table.output
    out = runner.invoke(main, ["evaluate", "sts", str(sts_file), "-m", str(tiny_st_model), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["task"] == "sts" and set(data["metrics"]) == {"spearman", "pearson"}


def test_sts_onnx_int8(tiny_st_model, sts_file, onnx_cache):
    import onnxruntime  # noqa: F401
    out = CliRunner().invoke(main, ["evaluate", "sts", str(sts_file), "-m", str(tiny_st_model),
                                    "--backend", "onnx", "--int8", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["n"] == 3
    assert any((onnx_cache / "onnx").rglob("int8/model.onnx"))


def test_pairs_and_retrieval(tiny_st_model, tmp_path):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("sentence1\tsentence2\tlabel\na dog\tthe dog\t1\na dog\tstock markets\t0\n",
                     encoding="utf-8")
    out = CliRunner().invoke(main, ["evaluate", "pairs", str(pairs), "-m", str(tiny_st_model), "--json"])
    assert out.exit_code == 0, out.output
    assert "average_precision" in json.loads(out.stdout)["metrics"]

    folder = tmp_path / "beir"
    folder.mkdir()
    (folder / "corpus.jsonl").write_text(
        "\n".join(json.dumps({"_id": f"d{i}", "text": t}) for i, t in
                  enumerate(["a dog runs", "stock markets fell", "a guitar"])), encoding="utf-8")
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q", "text": "dogs"}), encoding="utf-8")
    (folder / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq\td0\t1\n", encoding="utf-8")
    out = CliRunner().invoke(main, ["evaluate", "retrieval", str(folder), "-m", str(tiny_st_model),
                                    "-k", "1,3"])
    assert out.exit_code == 0, out.output
    assert "recall@3" in out.output and "ndcg@10" in out.output


def test_errors_are_one_line_with_exit_codes(tiny_st_model, sts_file, tmp_path):
    runner = CliRunner()
    missing = runner.invoke(main, ["evaluate", "sts", str(tmp_path / "nope.tsv"), "-m", str(tiny_st_model)])
    assert missing.exit_code == 2 and "error: no STS file" in missing.output
    not_model = runner.invoke(main, ["evaluate", "sts", str(sts_file), "-m", str(tmp_path)])
    assert not_model.exit_code == 3 and "not a model folder" in not_model.output
    int8_torch = runner.invoke(main, ["evaluate", "sts", str(sts_file), "-m", str(tiny_st_model), "--int8"])
    assert int8_torch.exit_code == 2 and "--int8 needs --backend onnx" in int8_torch.output
    bad_k = runner.invoke(main, ["evaluate", "retrieval", str(tmp_path), "-m", str(tiny_st_model),
                                 "-k", "a,b"])
    assert bad_k.exit_code == 2 and "-k must be" in bad_k.output
    assert "Traceback" not in missing.output + not_model.output + int8_torch.output


def test_embed_with_the_onnx_int8_backend(tiny_st_model, tmp_path, onnx_cache):
    import onnxruntime  # noqa: F401
    import numpy as np

    src = tmp_path / "texts.txt"
    src.write_text("a dog runs\n\nstock markets fell\n", encoding="utf-8")
    out_file = tmp_path / "v.npy"
    out = CliRunner().invoke(main, ["embed", str(src), "-m", str(tiny_st_model), "--backend", "onnx",
                                    "--int8", "-o", str(out_file)])
    assert out.exit_code == 0, out.output
    vecs = np.load(out_file)
    assert vecs.shape[1] == 32 and np.isfinite(vecs).all()
    assert any((onnx_cache / "onnx").rglob("int8/model.onnx"))
