"""Web chat: agent replies reach the visitor's open sockets (the ``/customer`` Socket.IO room).

A reply goes through the outbox like any other channel's, so it has the same delivery status: it
is "sent" once the Socket.IO server (or, with several nodes, Redis) has taken it. A visitor who is
not connected at that moment gets it in the history when they come back.
"""

from __future__ import annotations

from typing import Any

from redis.exceptions import RedisError

from callcenter.messaging.channels.base import Reply
from callcenter.messaging.outbox import SendFailed

NAMESPACE = "/customer"


def room_of(address: str) -> str:
    """The room of every socket of one visitor (``address``: where the messaging service sends)."""
    return f"webchat:{address}"


class WebchatSender:
    def __init__(self, sio: Any) -> None:
        self._sio = sio  # socketio.AsyncServer (untyped library)

    async def send(self, reply: Reply) -> str:
        payload = {
            "id": reply.message_id,
            "body": reply.body,
            "from": "bot" if reply.author == "bot" else "agent",
        }
        try:
            await self._sio.emit("message", payload, room=room_of(reply.to), namespace=NAMESPACE)
        except (OSError, RedisError) as err:  # Redis away (several nodes): retried
            raise SendFailed(f"socket.io: {type(err).__name__}: {err}") from err
        return reply.message_id
