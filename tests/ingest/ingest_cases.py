"""Known facts about the testdata/5_formats files, shared by the ingest tests."""

from __future__ import annotations

# Display size (width, height) in pixels after EXIF orientation of every
# decodable file in testdata/5_formats. Sizes stated in MANIFEST.md are used
# as given (e.g. vips_rotation_1 308x410, rotation 5-8 "displays 231x308",
# AVIF rot1mir0 427x640 stored with a 90-degree irot); the others are the
# stored sizes, swapped where the file's orientation is 5-8.
DISPLAY_SIZES = {
    "color_depth/photoprism_Iceland-P3.jpg": (600, 400),
    "color_depth/pillow_apng_mode_16bit.png": (128, 64),
    "color_depth/pillow_heif_RGB_16__128x128.png": (128, 128),
    "color_depth/pillow_icc_profile_big.jpg": (425, 250),
    "color_depth/pillow_pil_sample_cmyk.jpg": (100, 100),
    "color_depth/pillow_tiff_16bit_RGB.tiff": (100, 40),
    "color_depth/pillow_tiff_strip_cmyk_jpeg.tif": (100, 100),
    "color_depth/vips_ultra-hdr.jpg": (3840, 2160),
    "containers/photoprism_animated.gif": (1917, 1533),
    "containers/photoprism_example.bmp": (100, 67),
    "containers/photoprism_fox.profile0.8bpc.yuv420.avif": (1204, 800),
    # EXIF orientation 6 and no irot box: displayed portrait (photoprism's own
    # test expects orientation 6 for this file).
    "containers/photoprism_iphone_7.heic": (3024, 4032),
    "containers/photoprism_norway-kjetil-moe.webp": (550, 368),
    "containers/photoprism_star.avifs": (159, 159),
    "containers/pillow_frozenpond.mpo": (640, 480),
    "containers/pillow_heif_xiaomi.heic": (2592, 1944),
    "containers/pillow_heif_zPug_3.heic": (64, 64),
    "containers/pillow_iss634.gif": (245, 245),
    "containers/pillow_iss634.webp": (245, 245),
    "containers/vips_sample.tif": (290, 442),
    "metadata/photoprism_gps-2000.jpg": (494, 327),
    "metadata/photoprism_no-exif-data.jpg": (721, 332),
    "metadata/photoprism_panorama360.jpg": (500, 250),
    "metadata/pillow_iptc.jpg": (640, 480),
    "orientation/photoprism_rotate_6.png": (960, 1395),
    "orientation/photoprism_rotate_6.tiff": (43, 65),
    "orientation/pillow_avif_rot1mir0.avif": (640, 427),
    "orientation/pillow_exif_imagemagick_orientation.png": (512, 512),
    "orientation/pillow_hopper_orientation_6.jpg": (128, 128),
    "orientation/pillow_xmp_tags_orientation.png": (326, 268),
    **{f"orientation/vips_rotation_{i}.jpg": (308, 410) for i in range(1, 5)},
    **{f"orientation/vips_rotation_{i}.jpg": (231, 308) for i in range(5, 9)},
    # In broken/ but really fine: corrupt EXIF only, and a JPEG named .png.
    "broken/pillow_hopper_bad_exif.jpg": (500, 500),
    "broken/photoprism_this-is-a-jpeg.png": (240, 180),
}

# Files in broken/ that must fail, with the stage and a word the message must contain.
BROKEN = {
    "broken/vips_truncated.jpg": ("decode", "truncated"),
    "broken/pillow_truncated_jpeg.jpg": ("decode", "truncated"),
    "broken/photoprism_broken_animated-earth.jpg": ("decode", "truncated"),
    "broken/pillow_heif_corrupted.heic": ("decode", "corrupt"),
    "broken/pillow_broken.png": ("decode", "corrupt"),
    "broken/vips_17000x17000.avif": ("decode", "too large"),
    "broken/pillow_png_decompression_dos.png": ("decode", "too large"),
}
