"""The recordings listing's metadata is kept in the folder across restarts of the app, and used
only while a recording's files are unchanged."""
from __future__ import annotations

import json
import os

from evlog.segments import Log
from evlog.web.catalog import CATALOG_FILE, Catalog


def make(root, name: str, n: int) -> str:
    path = os.path.join(root, name)
    with Log.create(path, name) as log:
        for i in range(n):
            log.append("Tick", {"i": i}, "src")
    return path


def counting_opens(cat: Catalog) -> list[str]:
    opened: list[str] = []
    real = cat.open_path

    def spy(path):
        opened.append(path)
        return real(path)

    cat.open_path = spy
    return opened


def test_a_restarted_catalog_lists_from_the_kept_file_without_opening_recordings(tmp_path):
    make(tmp_path, "a", 3)
    make(tmp_path, "b", 5)
    first = Catalog(str(tmp_path))
    listed = first.list()
    assert [(i["name"], i["event_count"]) for i in listed] == [("a", 3), ("b", 5)]
    assert (tmp_path / CATALOG_FILE).exists()

    again = Catalog(str(tmp_path))
    opened = counting_opens(again)
    assert again.list() == listed
    assert opened == []


def test_a_changed_or_removed_recording_is_read_again(tmp_path):
    a = make(tmp_path, "a", 3)
    make(tmp_path, "b", 5)
    Catalog(str(tmp_path)).list()
    with Log.open(a, "a") as log:
        log.append("Tick", {"i": 99}, "src")
    os.rename(tmp_path / "b", tmp_path / "c")

    again = Catalog(str(tmp_path))
    opened = counting_opens(again)
    assert [(i["name"], i["event_count"]) for i in again.list()] == [("a", 4), ("c", 5)]
    assert sorted(os.path.basename(p) for p in opened) == ["a", "c"]
    kept = json.loads((tmp_path / CATALOG_FILE).read_text())
    assert sorted(kept["recordings"]) == ["a", "c"]


def test_a_damaged_or_foreign_catalog_file_is_ignored(tmp_path):
    make(tmp_path, "a", 2)
    for content in ("not json", '{"version": 999, "recordings": {}}', '{"version": 1, "recordings": {"a": 7}}',
                    '{"version": 1, "recordings": {"a": {"sig": [1], "info": {"name": "a", "event_count": 77}}}}'):
        (tmp_path / CATALOG_FILE).write_text(content)
        assert [(i["name"], i["event_count"]) for i in Catalog(str(tmp_path)).list()] == [("a", 2)]


def test_a_read_only_folder_is_listed(tmp_path, monkeypatch):
    make(tmp_path, "a", 2)

    def refuse(path, doc, **kwargs):
        raise PermissionError("read-only folder")

    monkeypatch.setattr("evlog.web.catalog.save_json", refuse)
    assert [i["event_count"] for i in Catalog(str(tmp_path)).list()] == [2]
    assert not (tmp_path / CATALOG_FILE).exists()
