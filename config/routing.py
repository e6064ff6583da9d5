"""Websocket routes of every app."""

from django.urls import path

from core.consumers import PingConsumer
from ingestion.consumers import DocumentStatusConsumer
from qa.consumers import ChatConsumer

websocket_urlpatterns = [
    path("ws/ping/", PingConsumer.as_asgi()),
    path("ws/documents/", DocumentStatusConsumer.as_asgi()),
    path("ws/chat/", ChatConsumer.as_asgi()),
]
