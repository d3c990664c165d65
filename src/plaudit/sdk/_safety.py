"""The SDK never breaks its host: its own failures are reported, never raised into the app.

Every public SDK entry point runs its own work under `guarded`; an error there goes to the
`on_error` callback the app gave (or to the `plaudit.sdk` logger) and the app carries on.
Exceptions raised by the app's own code inside `span(...)` are the app's and propagate unchanged.
"""

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final

log: Final = logging.getLogger("plaudit.sdk")

ErrorHandler = Callable[[BaseException], None]


class PlauditSdkError(Exception):
    """Base of the errors the SDK reports to `on_error` (it never raises them at the app)."""


class FeedbackDropped(PlauditSdkError):
    """The send queue was full, so new items were dropped; `count` says how many since last told."""

    def __init__(self, count: int, total: int, capacity: int) -> None:
        super().__init__(
            f"dropped {count} feedback item(s) because the send queue was full "
            f"({capacity} items waiting; {total} dropped in all). Is the Plaudit server reachable?"
        )
        self.count = count
        self.total = total


class FeedbackRejected(PlauditSdkError):
    """The server refused an item (bad field, token not allowed); retrying cannot help."""

    def __init__(self, item_id: str | None, detail: str, status: int | None = None) -> None:
        super().__init__(f"Plaudit refused {item_id or 'a request'}: {detail}")
        self.item_id = item_id
        self.detail = detail
        self.status = status


class DeliveryFailed(PlauditSdkError):
    """A request failed and will be retried (or was given up at shutdown)."""


def report(error: BaseException, on_error: ErrorHandler | None) -> None:
    """Give `error` to the app's callback, or log it; a failing callback is logged too."""
    if on_error is not None:
        try:
            on_error(error)
        except Exception:
            log.exception("the Plaudit on_error callback raised")
        return
    log.warning("plaudit: %s", error, exc_info=not isinstance(error, PlauditSdkError))


@contextmanager
def guarded(on_error: ErrorHandler | None) -> Iterator[None]:
    """Run a block of SDK work; any exception in it is reported instead of raised."""
    try:
        yield
    except Exception as error:
        report(error, on_error)
