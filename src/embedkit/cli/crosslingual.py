"""Cross-lingual word mapping commands: ``align`` and ``translate``.

::

    embedkit align ko-vectors/ en-vectors/ --dictionary ko-en.tsv -o ko-en-map/
    embedkit align ko-vectors/ en-vectors/ --unsupervised -o ko-en-map/
    embedkit translate 자동차 --map ko-en-map/ -k 5
    embedkit translate car --map ko-en-map/ --reverse
"""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import InvalidInput
from .app import command, echo_json

FAMILY = "Applications"


def _vectors(path: str, role: str):
    from ..text.word_vectors import WordVectors

    folder = Path(path)
    if not folder.is_dir():
        raise InvalidInput(f"{role} {path}: not a folder of word vectors (train one with "
                           f"'embedkit train word2vec')")
    return WordVectors.load(folder)


@command("align", family=FAMILY)
@click.argument("source")
@click.argument("target")
@click.option("--dictionary", "-d", type=click.Path(dir_okay=False),
              help="Seed dictionary: 'source<TAB>target' word pairs, one a line.")
@click.option("--unsupervised", is_flag=True, help="Start with no dictionary (VecMap-style).")
@click.option("--refine", default=1, show_default=True, type=int,
              help="Rounds of dictionary re-induction (mutual CSLS neighbours) + Procrustes.")
@click.option("--test", "test_dict", type=click.Path(dir_okay=False),
              help="Held-out pairs to report precision@1/@5 on (NN and CSLS).")
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False),
              help="Folder to write the map to.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def align(source, target, dictionary, unsupervised, refine, test_dict, output, as_json):
    """Map the SOURCE word-vector space onto TARGET (orthogonal Procrustes, CSLS retrieval)."""
    from ..apps.crosslingual import WordMapping

    if not dictionary and not unsupervised:
        raise InvalidInput("give --dictionary PAIRS.tsv, or --unsupervised to start without one")
    src, tgt = _vectors(source, "SOURCE"), _vectors(target, "TARGET")
    mapping = WordMapping(refine=refine).fit(src, tgt, dictionary, unsupervised=unsupervised)
    mapping.save(output)
    summary = {"output": output, "dictionary_pairs_used": mapping.dictionary_size_,
               "dictionary_coverage": round(mapping.dictionary_coverage_, 4),
               "induced_pairs": mapping.induced_pairs_}
    if test_dict:
        summary["test"] = mapping.evaluate(test_dict)
    if as_json:
        echo_json(summary)
        return
    click.echo(f"saved the map to {output} ({mapping.dictionary_size_} seed pairs in both "
               f"vocabularies, {mapping.induced_pairs_} pairs in the final solution)")
    if test_dict:
        t = summary["test"]
        click.echo(f"held-out: {t['scored']} source words (coverage {t['coverage']:.2f}); "
                   f"P@1 NN {t['nn_p@1']:.3f}, CSLS {t['csls_p@1']:.3f}; "
                   f"P@5 NN {t['nn_p@5']:.3f}, CSLS {t['csls_p@5']:.3f}")


@command("translate", family=FAMILY)
@click.argument("words", nargs=-1, required=True)
@click.option("--map", "map_folder", required=True, type=click.Path(file_okay=False),
              help="A map written by 'embedkit align'.")
@click.option("-k", default=5, show_default=True, type=int, help="Translations per word.")
@click.option("--method", type=click.Choice(["csls", "nn"]), default="csls", show_default=True)
@click.option("--reverse", is_flag=True, help="Translate target-language words back.")
@click.option("--json", "as_json", is_flag=True)
def translate(words, map_folder, k, method, reverse, as_json):
    """Translate WORDS with a cross-lingual word map."""
    from ..apps.crosslingual import WordMapping

    if not Path(map_folder).is_dir():
        raise InvalidInput(f"--map {map_folder}: no such folder (make one with 'embedkit align')")
    mapping = WordMapping.load(map_folder)
    out = {w: mapping.translate(w, k, method=method, reverse=reverse) for w in words}
    if as_json:
        echo_json({w: [{"word": t, "score": round(s, 4)} for t, s in hits]
                   for w, hits in out.items()})
        return
    for w, hits in out.items():
        click.echo(f"{w}: " + ", ".join(f"{t} ({s:.3f})" for t, s in hits))
