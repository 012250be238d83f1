"""The export's final folder swap: after a kill at any point, the old or the new folder is at --out."""

from edgeppg.export.pipeline import _old_slot, _publish, _recover


def test_kill_between_renames_restores_the_old_export(tmp_path):
    out = tmp_path / "exp"
    old = _old_slot(out)
    old.mkdir()
    (old / "manifest.json").write_text("{}")
    stale = tmp_path / ".exp.abc123.tmp"
    stale.mkdir()
    _recover(out)  # state a kill between the two renames leaves: out missing, old in its slot
    assert (out / "manifest.json").is_file() and not old.exists() and not stale.exists()


def test_publish_replaces_and_leaves_nothing_hidden(tmp_path):
    out = tmp_path / "exp"
    out.mkdir()
    (out / "a").write_text("old")
    staging = tmp_path / ".exp.x.tmp"
    staging.mkdir()
    (staging / "a").write_text("new")
    _publish(staging, out)
    assert (out / "a").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp"]


def test_new_export_in_place_drops_the_old_slot(tmp_path):
    out = tmp_path / "exp"
    out.mkdir()
    _old_slot(out).mkdir()
    _recover(out)
    assert not _old_slot(out).exists() and out.is_dir()
