"""Photos sent with register reports: checked, decoded and re-encoded, metadata stripped.

A photo is decoded with Pillow (JPEG, PNG, WebP, GIF's first frame), bounded in bytes and in
pixels (decompression bombs), turned upright by its EXIF orientation, scaled to at most
:data:`MAX_SIDE_PX` on its long side and re-encoded as a fresh JPEG. Nothing of the original
file survives: EXIF (with GPS position, camera and owner), XMP, ICC profiles and comments are
dropped, since a resident's photo must not give away where they live or who they are. Its
ref is ``photo-<sha256 of the JPEG>``. Anything that does not decode as an image is a 422.
"""

from __future__ import annotations

import hashlib
import io
import warnings

from gis import InputError

from ..store import Attachment

__all__ = ["MAX_PHOTOS", "MAX_PIXELS", "MAX_SIDE_PX", "clean_photo"]

#: Photos per report.
MAX_PHOTOS = 3
#: Largest image decoded (pixels): a 48-megapixel phone photo passes, bombs do not.
MAX_PIXELS = 50_000_000
#: Long side of the stored JPEG.
MAX_SIDE_PX = 2048
_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "MPO")


def clean_photo(data: bytes, *, name: str = "photo") -> Attachment:
    r"""The photo re-encoded as a JPEG without metadata, or a 422 :class:`InputError`.

    Examples
    --------
    >>> from PIL import Image
    >>> buf = io.BytesIO(); Image.new("RGB", (40, 30), "red").save(buf, "PNG")
    >>> photo = clean_photo(buf.getvalue())
    >>> photo.media_type, photo.ref.startswith("photo-"), photo.data[:2] == b"\xff\xd8"
    ('image/jpeg', True, True)
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    bad = f"`{name}` is not a photo (JPEG, PNG or WebP). Fix: attach a picture taken with the phone."
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.format not in _FORMATS:
                    raise InputError(bad, key="photo_not_a_picture", values={"name": name})
                if img.width * img.height > MAX_PIXELS:
                    msg = (
                        f"`{name}` is {img.width} x {img.height} pixels, over {MAX_PIXELS:,}. "
                        "Fix: send a smaller picture."
                    )
                    words = {
                        "name": name,
                        "width": img.width,
                        "height": img.height,
                        "limit": f"{MAX_PIXELS:,}",
                    }
                    raise InputError(msg, key="photo_too_many_pixels", values=words)
                img.seek(0)
                upright = ImageOps.exif_transpose(img)
                rgb = upright.convert("RGB")
    except InputError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombWarning,
            Image.DecompressionBombError):  # fmt: skip
        raise InputError(bad, key="photo_not_a_picture", values={"name": name}) from None
    rgb.thumbnail((MAX_SIDE_PX, MAX_SIDE_PX))
    out = io.BytesIO()
    clean = Image.new("RGB", rgb.size)  # a new image: no info, no EXIF, no ICC carried over
    clean.paste(rgb)
    clean.save(out, "JPEG", quality=85, optimize=True)
    jpeg = out.getvalue()
    return Attachment("photo-" + hashlib.sha256(jpeg).hexdigest(), "image/jpeg", jpeg)
