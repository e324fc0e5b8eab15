"""sha256 verification of catalog files."""

from __future__ import annotations

import shutil

from dalib.data.catalog import get_spec
from dalib.data.verify import files_present, verify


def test_verify_surf_passes(data_root):
    report = verify(get_spec("office-caltech10-surf"), data_root)
    assert report.ok and report.checked == 4


def test_verify_images_checks_every_listed_file(data_root):
    report = verify(get_spec("office-caltech10-images"), data_root)
    assert report.ok and report.checked == 2533 + 1


def test_verify_flags_a_changed_and_a_missing_file(data_root, tmp_path):
    copy = tmp_path / "office_caltech10_surf"
    copy.mkdir()
    for f in ("amazon_SURF_L10.mat", "dslr_SURF_L10.mat", "webcam_SURF_L10.mat"):
        shutil.copy(data_root / "office_caltech10_surf" / f, copy / f)
    with open(copy / "dslr_SURF_L10.mat", "ab") as fh:
        fh.write(b"x")
    report = verify(get_spec("office-caltech10-surf"), tmp_path)
    assert report.missing == ["Caltech10_SURF_L10.mat"]
    assert report.mismatched == ["dslr_SURF_L10.mat"]
    assert not files_present(get_spec("office-caltech10-surf"), tmp_path)


def test_text_datasets_verify_and_count_without_embedding(data_root, tmp_path, monkeypatch):
    import dalib.text.domains as text_domains
    from dalib.data.catalog import domain_sizes

    report = verify(get_spec("amazon-sentiment"), data_root)
    assert report.ok and report.checked == 16
    assert files_present(get_spec("amazon-sentiment"), data_root)
    assert not files_present(get_spec("amazon-sentiment"), tmp_path)
    monkeypatch.setattr(text_domains, "cached_embeddings", None)  # counting must not embed
    assert domain_sizes("amazon-sentiment", data_root) == [
        ("books", 2000), ("dvd", 2000), ("electronics", 2000), ("kitchen", 2000)]
