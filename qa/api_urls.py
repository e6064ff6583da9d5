from django.urls import path

from qa.apis import AskApi, AskStreamApi, ConversationDetailApi, ConversationListApi

urlpatterns = [
    path("ask/", AskApi.as_view(), name="api-ask"),
    path("ask/stream/", AskStreamApi.as_view(), name="api-ask-stream"),
    path("conversations/", ConversationListApi.as_view(), name="api-conversation-list"),
    path("conversations/<int:conversation_id>/", ConversationDetailApi.as_view(), name="api-conversation-detail"),
]
