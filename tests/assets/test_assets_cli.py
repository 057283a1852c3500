"""`folio assets …` as an operator runs it: a real process against the test database."""

from folio.accounts import services as accounts
from folio.assets.models import Asset
from tests.assets import files
from tests.conftest import run_folio


def test_add_a_folder_versions_restore_and_prune(folio_env, tmp_path):
    accounts.create_user("mia", roles=["asset_manager"], password="correct-horse-battery-9")
    media, uploads = tmp_path / "media", tmp_path / "var"
    env = {**folio_env, "FOLIO_MEDIA": str(media), "FOLIO_VAR": str(uploads)}
    drop = tmp_path / "drop"
    (drop / "sub").mkdir(parents=True)
    (drop / "front.jpg").write_bytes(files.jpeg(color=(1, 2, 3)))
    (drop / "sub" / "manual.pdf").write_bytes(files.pdf(pages=3))
    (drop / "sub" / "copy.jpg").write_bytes(files.jpeg(color=(1, 2, 3)))
    (drop / "bomb.png").write_bytes(files.bomb_png())

    done = run_folio(
        ["assets", "add", str(drop), "--recursive", "--tag", "launch", "--as-user", "mia"], env
    )
    assert done.returncode == 1, done.stderr  # the bomb was refused
    out = done.stdout
    assert "front.jpg: added #" in out and "manual.pdf: added #" in out
    assert "copy.jpg: duplicate of #" in out
    assert "bomb.png: refused: " in out and "MP" in out
    assert "2 added, 1 duplicates skipped, 1 refused (4 files)" in out
    assert Asset.objects.count() == 2

    pdf = Asset.objects.get(type="pdf")
    (tmp_path / "v2.pdf").write_bytes(files.pdf(pages=5))
    from folio.assets import services

    with open(tmp_path / "v2.pdf", "rb") as f:
        services.add_version(pdf.pk, f, filename="manual-v2.pdf")
    listed = run_folio(["assets", "versions", str(pdf.pk)], env)
    assert listed.returncode == 0, listed.stderr
    assert "* v2" in listed.stdout and "  v1" in listed.stdout

    restored = run_folio(["assets", "restore", str(pdf.pk), "1"], env)
    assert restored.returncode == 0, restored.stderr
    assert f"restored v1 of #{pdf.pk} as v3" in restored.stdout

    pruned = run_folio(["assets", "prune", "--keep", "1"], env)
    assert pruned.returncode == 0, pruned.stderr
    assert "2 old versions pruned" in pruned.stdout

    missing = run_folio(["assets", "restore", "999", "1"], env)
    assert missing.returncode != 0 and "no asset #999" in missing.stderr
