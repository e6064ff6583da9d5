"""Websocket routes of every app."""

from django.urls import path

from core.consumers import PingConsumer

websocket_urlpatterns = [
    path("ws/ping/", PingConsumer.as_asgi()),
]
