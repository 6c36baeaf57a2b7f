"""CLI: train sentence / fewshot and classify predict on a tiny model; one-line errors."""

import json

from click.testing import CliRunner

from embedkit.cli import main


def test_train_sentence_then_classify(tiny_model_factory, tmp_path):
    model = tiny_model_factory("cli-tiny")
    data = tmp_path / "sts.tsv"
    rows = [("a cat sat", "the cat", 4.5), ("a dog ran", "the dog", 4.0), ("bank loan", "a guitar", 0.5),
            ("hot coffee", "a book", 1.0)] * 2
    data.write_text("sentence1\tsentence2\tscore\n" + "".join(f"{a}\t{b}\t{s}\n" for a, b, s in rows),
                    encoding="utf-8")
    out = tmp_path / "sts-model"
    res = CliRunner().invoke(main, ["train", "sentence", str(data), "--model", str(model), "--loss",
                                    "cosent", "--batch-size", "4", "--max-steps", "2", "--dev",
                                    str(data), "-o", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output[res.output.index("{"):])
    assert summary["steps"] == 2 and "sts_spearman" in summary["dev_before"]
    assert (out / "embedkit.json").is_file() and (tmp_path / "sts-model.checkpoints" / "last").is_dir()

    labelled = tmp_path / "labels.jsonl"
    items = [("good fun film", "pos"), ("great story", "pos"), ("good acting", "pos"),
             ("bank loan", "neg"), ("stock prices", "neg"), ("bank closed", "neg")]
    labelled.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in items),
                        encoding="utf-8")
    clf = tmp_path / "clf"
    res = CliRunner().invoke(main, ["train", "fewshot", str(labelled), "--model", str(model),
                                    "--batch-size", "4", "--num-iterations", "1", "-o", str(clf),
                                    "--no-progress"])
    assert res.exit_code == 0, res.output
    texts = tmp_path / "texts.txt"
    texts.write_text("good fun film\nbank loan\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["classify", "predict", str(texts), "--model", str(clf),
                                    "--json", "--proba"])
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in res.output.strip().splitlines()]
    assert [x["text"] for x in lines] == ["good fun film", "bank loan"]
    assert all(abs(sum(x["proba"].values()) - 1) < 1e-6 for x in lines)
    assert all(x["label"] in ("pos", "neg") for x in lines)


def test_cli_errors_are_one_line(tiny_model_factory, tmp_path):
    model = tiny_model_factory("cli-tiny-err")
    bad = tmp_path / "bad.tsv"
    bad.write_text("question\tanswer_text\nq\ta\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["train", "sentence", str(bad), "--model", str(model),
                                    "-o", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert res.output.startswith("error: ") and "no column for 'positive'" in res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
    res = CliRunner().invoke(main, ["classify", "predict", str(bad), "--model", str(model)])
    assert res.exit_code == 3 and "holds no classifier" in res.output
