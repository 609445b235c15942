from __future__ import annotations

from typing import TYPE_CHECKING

from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import pagination, serializers

if TYPE_CHECKING:
    from django.db.models import QuerySet
    from rest_framework.request import Request
    from rest_framework.response import Response
    from rest_framework.serializers import Serializer
    from rest_framework.views import APIView


class PageNumberPagination(pagination.PageNumberPagination):
    """`?page=N&page_size=M` (max 200) → `{"count", "next", "previous", "results"}`."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


# The query parameters of every list, for `extend_schema(parameters=...)`.
PAGE_PARAMETERS = [
    OpenApiParameter("page", int, required=False, description="1 for the first page."),
    OpenApiParameter("page_size", int, required=False, description="At most 200; default 50."),
]


def page_of(serializer: Serializer, *, name: str) -> Serializer:
    """The OpenAPI shape of one page of `serializer` (for `extend_schema`):
    views answering with `paginated_response` are not generic views, so
    drf-spectacular cannot see their pagination."""
    return inline_serializer(
        name=name,
        fields={
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer,
        },
    )


def paginated_response(
    *, queryset: QuerySet, serializer_class: type[Serializer], request: Request, view: APIView
) -> Response:
    """One page of `queryset` in the list shape of API.md."""
    paginator = PageNumberPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)
