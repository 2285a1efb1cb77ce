"""Values shown to people, in their locale: dates."""

from __future__ import annotations

from PySide6.QtCore import QDateTime, QLocale, Qt

__all__ = ["local_datetime"]


def local_datetime(iso: str | None, locale: QLocale | None = None) -> str:
    """A stored date (ISO 8601 ``YYYY-MM-DDTHH:MM:SS``, maybe ``+hh:mm``) in the user's locale ("" for None).

    The date in ``locale``'s long form and the time in its short form
    (``QLocale()``, the system's, by default): "Thursday, 6 June 2019,
    07:29" or "Donnerstag, 6. Juni 2019, 07:29". A camera's own time has no
    zone and is shown as written; a known offset follows as "UTC+02:00".
    Text that is not such a date is shown as it is.
    """
    if not iso:
        return ""
    locale = locale or QLocale()
    moment = QDateTime.fromString(iso[:19], Qt.DateFormat.ISODate)
    if not moment.isValid():
        return iso
    text = (f"{locale.toString(moment.date(), QLocale.FormatType.LongFormat)}, "
            f"{locale.toString(moment.time(), QLocale.FormatType.ShortFormat)}")
    offset = iso[19:]
    return f"{text} (UTC{offset})" if offset else text
