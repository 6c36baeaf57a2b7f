"""Seeing and auditing vector spaces: projections (PCA, t-SNE, UMAP) and plots, clustering,
geometry (distance concentration), bias tests (WEAT) and debiasing.
"""
