from __future__ import annotations

import re

import numpy as np
import pytest


class KeywordEmbedder:
    """Deterministic fake: a bag of lower-cased words hashed into 512 buckets, L2-normalised."""

    name = fingerprint = "keyword-fake"

    def encode(self, texts, kind="document", batch_size=64, show_progress=False):
        out = np.zeros((len(texts), 512), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"[a-z]+", t.lower()):
                if len(w) > 3:
                    out[i, sum(map(ord, w)) % 512] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.clip(norms, 1e-12, None)


TOPICS = {
    "roofs": "Roof repairs need scaffolding and a roofer. Tiles and sheet metal are common roofing materials.",
    "permits": "A bygglov is the building permit from the municipality. Apply before starting construction work.",
    "windows": "Triple glazed windows cut heating costs. Window frames of wood need painting every decade.",
    "heating": "Heat pumps extract warmth from air, ground or water. District heating is common in towns.",
    "kitchens": "Kitchen renovations need electricians for new sockets. Plumbing changes need a licensed plumber.",
}


@pytest.fixture
def docs_folder(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in TOPICS.items():
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    return folder


def topic_reply(messages):
    """An answer that depends only on the prompt: two on-topic questions plus noise."""
    prompt = messages[-1]["content"]
    topic = next(t for t, text in TOPICS.items() if text in prompt)
    first = TOPICS[topic].split()[0:2]
    return (f"Here are two questions:\n1. What should I know about {topic} and {' '.join(first).lower()}?\n"
            f"2. How much do {topic} cost in practice?\nThanks!")


@pytest.fixture
def keyword_embedder():
    return KeywordEmbedder()
