from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from knox.auth import TokenAuthentication
from rest_framework import serializers, status
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import ApplicationError
from core.selectors.roles import user_roles
from core.services.api_tokens import api_token_create, api_token_revoke, api_tokens_revoke_all


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


class ApiTokenCreateApi(APIView):
    """A new API token, shown once, expiring after VERITY_API_TOKEN_TTL_DAYS.

    Authenticated with the password (HTTP Basic) or a browser session, never with a token: a
    token that could mint its successor would never expire."""

    authentication_classes = [BasicAuthentication, SessionAuthentication]

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ApiToken"

        token = serializers.CharField(help_text="send as 'Authorization: Token <token>'; shown only this once")
        expiry = serializers.DateTimeField(allow_null=True)

    @extend_schema(request=None, responses={201: OutputSerializer})
    def post(self, request: Request) -> Response:
        issued = api_token_create(user=request.user)
        data = {"token": issued.token, "expiry": issued.expiry}
        return Response(self.OutputSerializer(data).data, status=status.HTTP_201_CREATED)


class ApiTokenRevokeApi(APIView):
    """Revoke the token this request is authenticated with."""

    authentication_classes = [TokenAuthentication]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        api_token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiTokenRevokeAllApi(APIView):
    """Revoke every token of the caller (a token or a session)."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        api_tokens_revoke_all(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
