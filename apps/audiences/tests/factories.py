"""Factories of audience objects (owner permissions given as the services do)."""

from __future__ import annotations

from typing import Any, cast

import factory

from apps.audiences import services
from apps.audiences.models import ClientList, Segment, Suppression
from apps.users import roles
from tests.factories import UserFactory


class ClientListFactory(factory.django.DjangoModelFactory[ClientList]):
    class Meta:
        model = ClientList

    owner = factory.SubFactory(UserFactory, group=roles.USERS)
    name = factory.Sequence(lambda n: f"List {n}")

    @classmethod
    def _create(
        cls, model_class: type[ClientList], *args: Any, **kw: Any
    ) -> ClientList:
        return services.client_list_create(**kw)

    @factory.post_generation
    def members(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            services.list_members_add(
                client_list=cast(ClientList, self), clients=extracted
            )


class SegmentFactory(factory.django.DjangoModelFactory[Segment]):
    class Meta:
        model = Segment

    owner = factory.SubFactory(UserFactory, group=roles.USERS)
    name = factory.Sequence(lambda n: f"Segment {n}")
    rules: Any = factory.LazyFunction(list)

    @classmethod
    def _create(cls, model_class: type[Segment], *args: Any, **kw: Any) -> Segment:
        return services.segment_create(**kw)


class SuppressionFactory(factory.django.DjangoModelFactory[Suppression]):
    class Meta:
        model = Suppression

    email = factory.Sequence(lambda n: f"suppressed{n}@example.org")
    reason = Suppression.Reason.MANUAL
