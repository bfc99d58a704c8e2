"""What a client got from one HTTP request, as the access log and the metrics report it: the
status its response started with, or 499 ("client closed request", as nginx calls it) when
the client hung up before the response was complete: before the body was read, while the
answer was computed, or part-way through a stream. Such a request is no server error: counted
as one (Litestar answers a body cut short with a 500), it made the 5xx rate an alarm a
client's closed tab could set off.

A hang-up is known when the app reads the connection and is told so (`http.disconnect`):
reading the body, or a streaming response listening for it. A client that hangs up after its
request was read, while a handler that streams nothing runs, is only sent its response into
the closed connection, and that response's status is what counts."""

from __future__ import annotations

from litestar.types import Message, Receive, Send

CLIENT_CLOSED_REQUEST = 499


class Outcome:
    """Follows one request's ASGI messages: give the app `receive` and `send` in place of the
    server's, then read `status`."""

    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive, self._send = receive, send
        self.sent_status = 500  # what the client sees if the app dies before answering
        self.complete = False
        self.client_closed = False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.disconnect" and not self.complete:
            self.client_closed = True
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.sent_status = message["status"]
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            # Marked before the server has it: from then on the server answers a read with
            # `http.disconnect` (a stream's listener reads on), which is no hang-up.
            self.complete = True
        await self._send(message)

    @property
    def status(self) -> int:
        return CLIENT_CLOSED_REQUEST if self.client_closed else self.sent_status
