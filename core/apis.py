from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import ApplicationError
from core.selectors.roles import user_roles


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """ApplicationError becomes a 400 with its message; everything else as DRF does."""
    if isinstance(exc, ApplicationError):
        return Response({"detail": exc.message, **exc.extra}, status=400)
    return drf_exception_handler(exc, context)


class MeApi(APIView):
    """Who the caller is (session or token authentication)."""

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "Me"

        username = serializers.CharField()
        is_staff = serializers.BooleanField()
        is_reviewer = serializers.BooleanField()
        is_document_admin = serializers.BooleanField()

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request) -> Response:
        roles = user_roles(user=request.user)
        data = {
            "username": request.user.get_username(),
            "is_staff": roles.is_staff,
            "is_reviewer": roles.is_reviewer,
            "is_document_admin": roles.is_document_admin,
        }
        return Response(self.OutputSerializer(data).data)
