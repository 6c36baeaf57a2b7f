"""Training sentence encoders: contrastive fine-tuning, masked-LM adaptation, few-shot, distillation.

Word-vector training lives with the word vectors (:mod:`embedkit.text.word2vec`), SimCLR with the
image and audio encoders; this package holds the trainers that produce transformer encoders:

- :class:`SentenceTrainer`: MNRL (in-batch negatives, symmetric or not, hard negatives), CoSENT,
  AnglE, cosine, unsupervised SimCSE; Matryoshka dimensions as an option;
- :class:`MaskedLMTrainer`: masked-LM continued pre-training on a domain corpus (streamed);
- :class:`DistillationTrainer`: multilingual distillation from parallel sentences;
- :class:`FewShotClassifier`: SetFit-style few-shot classification (``predict``/``predict_proba``).

Each trainer follows scikit-learn: the constructor stores the configuration, ``fit`` returns
self, the trained encoder is ``encoder_``. The result is an ordinary sentence-transformers folder
(``output_dir_``) with the recipe and data hashes in ``embedkit.json``. torch is imported by
``fit``, not by this package.
"""

from .base import TrainingDiverged
from .data import KINDS, Examples, read_examples
from .distill import DistillationTrainer
from .fewshot import FewShotClassifier
from .losses import LOSSES
from .mlm import MaskedLMTrainer
from .sentence import SentenceTrainer

__all__ = ["SentenceTrainer", "MaskedLMTrainer", "DistillationTrainer", "FewShotClassifier",
           "TrainingDiverged", "Examples", "read_examples", "KINDS", "LOSSES", "load_encoder"]


def load_encoder(folder, **options):
    """Load a folder saved by a trainer (``embedkit.json`` type ``sentence_encoder``)."""
    from ..text.transformer import TransformerEncoder

    return TransformerEncoder(folder, **options)
