from datetime import timedelta
from typing import Any

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from apps.blog.models import Post
from apps.mailings import services
from apps.mailings.models import Client, Mailing, Message
from apps.users import roles
from apps.users.models import User

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    first_name = factory.Faker("first_name")
    is_staff = True
    email_confirmed = True
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def group(self, create, extracted, **kwargs):
        self.save()
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))


def make_user(**kwargs: Any) -> User:
    return UserFactory.create(group=roles.USERS, **kwargs)


class ClientFactory(factory.django.DjangoModelFactory[Client]):
    class Meta:
        model = Client

    owner = factory.SubFactory(UserFactory, group=roles.USERS)
    email = factory.Sequence(lambda n: f"client{n}@example.org")
    full_name = factory.Faker("name")

    @factory.post_generation
    def perms(self, create, extracted, **kwargs):
        if create:
            services.grant_owner_permissions(owner=self.owner, objects=self)


class MessageFactory(factory.django.DjangoModelFactory[Message]):
    class Meta:
        model = Message

    owner = factory.SubFactory(UserFactory, group=roles.USERS)
    subject = factory.Sequence(lambda n: f"Newsletter {n}")
    body = "Hello {{ full_name }}, this is our news."

    @factory.post_generation
    def perms(self, create, extracted, **kwargs):
        if create:
            services.grant_owner_permissions(owner=self.owner, objects=self)


class MailingFactory(factory.django.DjangoModelFactory[Mailing]):
    """A mailing whose window lies ahead, so creating it sends nothing."""

    class Meta:
        model = Mailing
        skip_postgeneration_save = True

    owner = factory.SubFactory(UserFactory, group=roles.USERS)
    message = factory.LazyAttribute(lambda o: MessageFactory(owner=o.owner))
    start_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
    end_at = factory.LazyAttribute(lambda o: o.start_at + timedelta(days=30))
    periodicity = Mailing.Periodicity.ONCE

    @classmethod
    def _create(cls, model_class: type[Mailing], *args: Any, **kwargs: Any) -> Mailing:
        # Saved the way the admin saves one: the owner's permissions, the next run.
        return services.mailing_save(mailing=model_class(**kwargs))

    @factory.post_generation
    def clients(self, create, extracted, **kwargs):
        if create and extracted is not None:
            self.clients.set(extracted)


class PostFactory(factory.django.DjangoModelFactory[Post]):
    class Meta:
        model = Post

    title = factory.Sequence(lambda n: f"Post number {n}")
    slug = factory.Sequence(lambda n: f"post-number-{n}")
    content = "<p>Hello, readers.</p>"
    is_published = True
    published_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
