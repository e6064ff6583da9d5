from django.urls import path

from core.apis import ApiTokenCreateApi, ApiTokenRevokeAllApi, ApiTokenRevokeApi, MeApi

urlpatterns = [
    path("me/", MeApi.as_view(), name="api-me"),
    path("auth/token/", ApiTokenCreateApi.as_view(), name="api-token-create"),
    path("auth/logout/", ApiTokenRevokeApi.as_view(), name="api-token-revoke"),
    path("auth/logout-all/", ApiTokenRevokeAllApi.as_view(), name="api-token-revoke-all"),
]
