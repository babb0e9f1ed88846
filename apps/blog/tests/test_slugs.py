import pytest

from apps.blog.models import Post
from apps.blog.services import transliterate
from tests.factories import PostFactory

pytestmark = pytest.mark.django_db


def test_a_post_without_slug_gets_one_from_its_title():
    post = PostFactory(title="Ten tips for better mailings!", slug="")
    assert post.slug == "ten-tips-for-better-mailings"


def test_cyrillic_titles_are_transliterated():
    post = PostFactory(title="Щедрые рассылки: Ёжик и объявление", slug="")
    assert post.slug == "shchedrye-rassylki-yozhik-i-obyavlenie"
    assert transliterate("Жук") == "Zhuk"


def test_slugs_stay_unique():
    first = PostFactory(title="Same title", slug="")
    second = PostFactory(title="Same title", slug="")
    third = PostFactory(title="Same title", slug="")
    assert [first.slug, second.slug, third.slug] == [
        "same-title",
        "same-title-2",
        "same-title-3",
    ]


def test_a_title_without_letters_falls_back_to_post():
    assert PostFactory(title="!!! ??? 😀", slug="").slug == "post"


def test_a_given_slug_is_kept_and_resaving_does_not_change_it():
    post = PostFactory(title="Anything", slug="my-slug")
    post.title = "Another title"
    post.save()
    assert Post.objects.get(pk=post.pk).slug == "my-slug"
