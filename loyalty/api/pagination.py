from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import pagination

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


def paginated_response(
    *, queryset: QuerySet, serializer_class: type[Serializer], request: Request, view: APIView
) -> Response:
    """One page of `queryset` in the list shape of API.md."""
    paginator = PageNumberPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)
