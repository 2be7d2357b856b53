from __future__ import annotations

import pytest

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
    """A bag of lower-cased words (longer than three letters) hashed into 512 buckets."""
    from ragtune.embedders import FakeEmbedder

    return FakeEmbedder(name="keyword-fake")
