import io

import pytest
from PIL import Image

from apps.blog.selectors import blog_cache_bump
from apps.home.selectors import home_statistics_forget


@pytest.fixture(autouse=True)
def fresh_site_cache():
    """The test cache lives as long as the test process: start from empty pages."""
    blog_cache_bump()
    home_statistics_forget()


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (8, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (147, 51, 234)).save(buffer, format=fmt)
    return buffer.getvalue()
