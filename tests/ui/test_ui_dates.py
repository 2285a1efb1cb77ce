"""Dates are shown in the user's locale, not as raw ISO text (failed before: the detail view showed
"2008-10-22T16:29:49")."""

from __future__ import annotations

from PySide6.QtCore import QLocale, Qt

from mediaapp.ui.formatting import local_datetime


def test_a_camera_date_reads_in_the_locale():
    english, german = QLocale(QLocale.Language.English, QLocale.Country.UnitedKingdom), QLocale(QLocale.Language.German)
    assert local_datetime("2019-06-06T07:29:51", english) == "Thursday, 6 June 2019, 07:29"
    assert local_datetime("2019-06-06T07:29:51", german) == "Donnerstag, 6. Juni 2019, 07:29"
    assert local_datetime("2019-06-06T07:29:51+02:00", english).endswith("07:29 (UTC+02:00)")
    assert local_datetime(None) == "" and local_datetime("not a date") == "not a date"


def test_the_detail_view_and_the_grid_show_the_date_in_the_locale(qtbot, testdata, tmp_path):
    import shutil

    from mediaapp.library import Library
    from mediaapp.ui.main_window import MainWindow

    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(testdata / "3_faces/face_recognition/obama.jpg", photos)  # a Canon's EXIF DateTimeOriginal
    lib = Library(tmp_path / "lib", settings={"workers": 1})
    try:
        assert lib.import_paths([photos], engines=[]).imported == 1
    finally:
        lib.close()
    QLocale.setDefault(QLocale(QLocale.Language.German))
    try:
        window = MainWindow(None)
        qtbot.addWidget(window)
        with qtbot.waitSignal(window.model.pageLoaded, timeout=30000):
            window.open_library(tmp_path / "lib")
        index = window.model.index(0)
        taken_at = window.model.loaded_row(0).asset.taken_at
        with qtbot.waitSignal(window.detail.loaded, timeout=30000):
            window.open_detail(index)
        shown = window.detail.metadata()["Taken"]
        assert shown == local_datetime(taken_at, QLocale(QLocale.Language.German)) and taken_at not in shown
        assert shown in index.data(Qt.ItemDataRole.ToolTipRole)
        window.close()
    finally:
        QLocale.setDefault(QLocale.system())
