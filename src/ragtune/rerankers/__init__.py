"""Cross-encoder rerankers: train from a retrieval dataset, evaluate as used (retrieve top K, rerank), export."""
