"""Websocket routes of every app."""

from django.urls import path

from core.consumers import PingConsumer
from ingestion.consumers import DocumentStatusConsumer

websocket_urlpatterns = [
    path("ws/ping/", PingConsumer.as_asgi()),
    path("ws/documents/", DocumentStatusConsumer.as_asgi()),
]
