from __future__ import annotations

import asyncio

from ragtune.generate.journal import Journal, call_key


def test_group_commit_keeps_every_record_once(tmp_path):
    path = tmp_path / "j.jsonl"
    j = Journal(path)

    async def main():
        await asyncio.gather(*(j.add_async({"key": f"k{i}", "reply": "r" * (i % 7)}) for i in range(200)))

    asyncio.run(main())
    assert len(j.done) == 200
    lines = path.read_text().splitlines()
    assert len(lines) == 200
    assert set(Journal(path).done) == {f"k{i}" for i in range(200)}


def test_torn_tail_is_skipped_and_repaired(tmp_path):
    path = tmp_path / "j.jsonl"
    j = Journal(path)
    j.add({"key": "a", "reply": "x"})
    with path.open("a") as f:
        f.write('{"key": "b", "rep')
    j2 = Journal(path)
    assert set(j2.done) == {"a"}
    asyncio.run(j2.add_async({"key": "c", "reply": "y"}))
    assert set(Journal(path).done) == {"a", "c"}


def test_key_changes_with_each_part():
    base = call_key("text", "p1", "m", 0)
    assert len({base, call_key("text2", "p1", "m", 0), call_key("text", "p2", "m", 0),
                call_key("text", "p1", "m2", 0), call_key("text", "p1", "m", 1)}) == 5
