"""Training sentence encoders: contrastive fine-tuning, masked-LM adaptation, few-shot, distillation.

Word-vector training lives with the word vectors (:mod:`embedkit.text.word2vec`), SimCLR with the
image and audio encoders; this package holds the trainers that produce transformer encoders.
"""
