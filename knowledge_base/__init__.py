"""Zhidian knowledge base: Chinese articles, hybrid (BM25 + dense) retrieval, evaluation.

Importing the package is cheap; torch, sentence-transformers and FAISS load only when an
index is built or opened. Nothing here imports the API.
"""
