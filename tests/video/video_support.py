"""Helpers of the video tests: a real VOC photo and PyAV's encoder, to make videos with known content."""

from __future__ import annotations

from pathlib import Path

import av
from PIL import Image

#: A VOC 2012 photo of aeroplanes and people (``1_objects/voc``, see the test data's MANIFEST.md).
VOC_PLANES = "1_objects/voc/VOC2012/JPEGImages/2007_000032.jpg"


def write_video(path: Path, frames: list[Image.Image], fps: int = 10, seconds_each: float = 1.0,
                codec: str = "mpeg4", container_options: dict | None = None,
                metadata: dict | None = None) -> Path:
    """Encode ``frames`` (each shown ``seconds_each`` s) at ``fps`` into ``path`` with PyAV; returns ``path``."""
    with av.open(str(path), "w", container_options=container_options or {}) as out:
        out.metadata.update(metadata or {})
        stream = out.add_stream(codec, rate=fps)
        width, height = frames[0].size
        stream.width, stream.height = width - width % 2, height - height % 2
        stream.pix_fmt = "yuv420p"
        for img in frames:
            img = img.convert("RGB").resize((stream.width, stream.height))
            for _ in range(int(fps * seconds_each)):
                out.mux(stream.encode(av.VideoFrame.from_image(img)))
        out.mux(stream.encode(None))
    return path
