"""factory-boy factories for every model tests build."""

from __future__ import annotations

from decimal import Decimal

import factory
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.utils import timezone

from loyalty.models import Store, User
from members.models import Member, Tier

PASSWORD = "correct-horse-battery-9"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password(PASSWORD)
    date_joined = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def verified_email(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            EmailAddress.objects.create(user=self, email=self.email, verified=True, primary=True)


class StaffUserFactory(UserFactory):
    @factory.post_generation
    def role(self, create: bool, extracted: str | None, **kwargs: object) -> None:
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"store-{n}")
    name = factory.Sequence(lambda n: f"Store {n}")


class MemberFactory(factory.django.DjangoModelFactory):
    """Members are made by the enrolment service, so each has its account,
    card number and entry tier as in production."""

    class Meta:
        model = Member

    user = factory.SubFactory(UserFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda o: o.user.email if o.user else None)
    phone = None
    joined_at = factory.LazyFunction(timezone.now)

    @classmethod
    def _create(cls, model_class: type[Member], **kwargs: object) -> Member:
        from loyalty.actors import Actor
        from members.services import member_enrol

        joined_at = kwargs.pop("joined_at")
        return member_enrol(actor=Actor.system(), now=joined_at, **kwargs)


class TierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tier
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"tier-{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())
    threshold = Decimal("0")
    multiplier = Decimal("1.00")
    retention_days = 365
