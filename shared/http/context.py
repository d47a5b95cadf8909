"""The request context (actor, correlation) stamped on every event a request causes."""

import datetime as dt
from typing import Annotated
from uuid import uuid4

from fastapi import Depends, Request

from shared.infra.eventstore import RequestContext


def request_context(request: Request) -> RequestContext:
    """Built from headers: `X-Actor` (until identities land), `X-Correlation-Id`."""
    command_id = str(uuid4())
    return RequestContext(
        actor=request.headers.get("x-actor", "anonymous"),
        correlation_id=request.headers.get("x-correlation-id", command_id),
        causation_id=command_id,
        now=dt.datetime.now(dt.UTC),
    )


ContextDep = Annotated[RequestContext, Depends(request_context)]
"""FastAPI dependency: the context of the current request."""
