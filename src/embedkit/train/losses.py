"""The loss catalogue: what each loss needs as input and when to use it.

=================  =========================================  ==========================================
loss               input (kind of examples)                   use it when
=================  =========================================  ==========================================
``mnrl``           pairs (anchor, positive) or triplets       retrieval / paraphrase pairs with no
                   (+ hard negative)                          scores: every other positive in the batch
                                                              is a negative (in-batch negatives); larger
                                                              batches give more negatives
``mnrl-symmetric`` pairs or triplets                          the same, both directions (anchor->positive
                                                              and positive->anchor): translation pairs,
                                                              symmetric paraphrases
``cosent``         scored pairs (sentence1, sentence2, score)  graded similarity (STS 0-5): only the order
                                                              of the scores matters
``angle``          scored pairs                               as CoSENT, on the angle difference in
                                                              complex space (AnglE): avoids the cosine's
                                                              saturation near +-1
``cosine``         scored pairs (score scaled to [0, 1])      the cosine should equal the score (SetFit's
                                                              loss for its generated 0/1 pairs)
``simcse``         texts only                                 no labels at all: a text and the same text
                                                              through another dropout mask are a positive
                                                              pair, the batch's other texts negatives
``mse``            parallel (source, target) + a teacher      multilingual distillation: the student maps
                                                              a sentence and its translation onto the
                                                              teacher's vector of the source
``mlm``            a text corpus                              masked-LM continued pre-training on a
                                                              domain (see MaskedLMTrainer)
=================  =========================================  ==========================================

``matryoshka_dims`` (any embedding loss above) averages the loss over prefixes of the vector
(e.g. 384, 256, 128, 64), so the first dimensions alone stay a usable embedding.

The formulas are those of sentence-transformers' ``MultipleNegativesRankingLoss`` (scale 20),
``CoSENTLoss`` (scale 20), ``AnglELoss``, ``CosineSimilarityLoss`` and ``MatryoshkaLoss``;
they take pooled vectors so that one training loop serves every trainer.
"""

from __future__ import annotations

__all__ = ["LOSSES", "LOSS_KINDS", "mnrl", "cosent", "angle", "cosine", "mse", "matryoshka"]

#: loss -> the kind of examples it trains on (see :data:`embedkit.train.data.KINDS`).
LOSS_KINDS = {
    "mnrl": "triplets",
    "mnrl-symmetric": "triplets",
    "cosent": "scored",
    "angle": "scored",
    "cosine": "scored",
    "simcse": "texts",
}
LOSSES = tuple(LOSS_KINDS)


def _cos_matrix(a, b):
    import torch

    return torch.nn.functional.normalize(a, dim=-1) @ torch.nn.functional.normalize(b, dim=-1).T


def mnrl(anchor, positive, negative=None, *, scale: float = 20.0, symmetric: bool = False):
    """In-batch negatives: cross-entropy of anchor i against every positive (and hard negative)."""
    import torch

    candidates = positive if negative is None else torch.cat([positive, negative])
    scores = _cos_matrix(anchor, candidates) * scale
    labels = torch.arange(len(anchor), device=anchor.device)
    loss = torch.nn.functional.cross_entropy(scores, labels)
    if symmetric:
        back = _cos_matrix(positive, anchor) * scale
        loss = (loss + torch.nn.functional.cross_entropy(back, labels)) / 2
    return loss


def _ranked(sims, scores, scale: float):
    import torch

    sims = sims * scale
    diff = sims[None, :] - sims[:, None]  # diff[i, j] = s_j - s_i
    keep = scores[:, None] > scores[None, :]  # pairs with score_i > score_j: want s_i > s_j
    diff = diff[keep]
    if diff.numel() == 0:
        return sims.sum() * 0.0
    return torch.logsumexp(torch.cat([torch.zeros(1, dtype=diff.dtype, device=diff.device), diff]),
                           dim=0)


def cosent(a, b, scores, *, scale: float = 20.0):
    """CoSENT: log(1 + sum over pairs ranked i > j of exp(scale * (cos_j - cos_i)))."""
    import torch

    cos = torch.nn.functional.cosine_similarity(a, b, dim=-1)
    return _ranked(cos, scores, scale)


def angle(a, b, scores, *, scale: float = 20.0):
    """AnglE: CoSENT on the normalised angle difference of a and b seen as complex vectors."""
    import torch

    x, y = torch.chunk(a, 2, dim=1)
    c, d = torch.chunk(b, 2, dim=1)
    z = torch.sum(c ** 2 + d ** 2, dim=1, keepdim=True)
    re = (x * c + y * d) / z
    im = (y * c - x * d) / z
    dz = torch.sum(x ** 2 + y ** 2, dim=1, keepdim=True) ** 0.5
    dw = torch.sum(c ** 2 + d ** 2, dim=1, keepdim=True) ** 0.5
    re = re / (dz / dw)
    im = im / (dz / dw)
    sims = torch.abs(torch.sum(torch.cat([re, im], dim=1), dim=1))
    return _ranked(sims, scores, scale)


def cosine(a, b, targets):
    """Mean squared difference between cos(a, b) and the target in [0, 1]."""
    import torch

    cos = torch.nn.functional.cosine_similarity(a, b, dim=-1)
    return torch.nn.functional.mse_loss(cos, targets.to(cos.dtype))


def mse(student, teacher):
    """Squared distance between student and teacher vectors, summed over dimensions."""
    return ((student - teacher) ** 2).sum(-1).mean()


def matryoshka(fn, dims, *vectors, **kwargs):
    """Mean of ``fn`` over the vector prefixes ``v[:, :d]`` for each ``d`` in ``dims``."""
    total = 0.0
    for d in dims:
        total = total + fn(*[v[:, :d] for v in vectors], **kwargs)
    return total / len(dims)
