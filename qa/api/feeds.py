"""GET /feeds (the subscriptions with their last poll's status), POST /feeds (subscribe, or
change a subscription's interval and publisher) and DELETE /feeds?url= (unsubscribe; the
stories it brought stay). Changes need the API key, as every write does."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, delete, post
from litestar.exceptions import ClientException, NotFoundException
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from qa.api.routing import get_or_head
from qa.api.security import WRITE
from qa.feeds import MAX_URL, BadSubscription, FeedList, FeedRequest, FeedView
from qa.service import QAService

_WRITES = {"opt": {WRITE: True}, "security": [{"apiKey": []}]}
UrlParam = Annotated[str, Parameter(query="url", min_length=1, max_length=MAX_URL,
                                    description="The subscribed URL, as GET /feeds lists it")]


class FeedController(Controller):
    path = "/feeds"
    tags = ["feeds"]

    @get_or_head(sync_to_thread=True, summary="The subscribed feeds, each with its last poll and the next")
    def list_feeds(self, service: QAService) -> FeedList:
        return service.feeds.list()

    @post(status_code=HTTP_201_CREATED, sync_to_thread=True, summary="Subscribe to a feed, sitemap or home page "
          "(201), or change a subscription's interval and publisher (200)", **_WRITES)
    def add_feed(self, data: FeedRequest, service: QAService) -> Response[FeedView]:
        try:
            feed, created = service.feeds.add(data.url, data.every, data.publisher)
        except BadSubscription as exc:
            raise ClientException(str(exc)) from exc
        return Response(feed, status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @delete(status_code=HTTP_204_NO_CONTENT, sync_to_thread=True,
            summary="Unsubscribe from a feed (the stories it brought stay)", **_WRITES)
    def remove_feed(self, service: QAService, url: UrlParam) -> None:
        if not service.feeds.remove(url):
            raise NotFoundException(f"no subscription to {url!r}")
