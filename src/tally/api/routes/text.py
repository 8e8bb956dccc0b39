"""Text routes (SPEC §14): analyse comments now, or as a job when there are many."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tally import keys
from tally.api.deps import Authenticated, RuntimeDep
from tally.api.docs import COMMON, Enqueued, _Open, errors, job_links
from tally.text.pipeline import analyse_all, comments_of, summary

router = APIRouter(prefix="/api/v1/text", tags=["text"])
MAX_COMMENTS = 100_000


class CommentIn(BaseModel):
    """A comment with an id of its own."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(max_length=200)
    text: str = Field(max_length=20_000)


class AnalyzeIn(BaseModel):
    """Comments to analyse: strings, or objects with `id` and `text`."""

    model_config = ConfigDict(extra="forbid")
    comments: list[Annotated[str, Field(max_length=20_000)] | CommentIn] = Field(
        min_length=1, max_length=MAX_COMMENTS
    )
    top: int = Field(default=10, ge=1, le=100, description="keywords per comment")
    store: bool = Field(default=True, description="a job also writes rows to text_comments")


class Analyzed(_Open):
    """The comments analysed now: each one's language, lemmas, keywords and counts."""

    results: list[dict[str, Any]]
    summary: dict[str, Any]


@router.post("/analyze", dependencies=[Authenticated], response_model=Analyzed,
             responses={202: {"model": Enqueued}, **errors(401, *COMMON)})  # fmt: skip
async def analyze(runtime: RuntimeDep, body: Annotated[AnalyzeIn, Body()]) -> Any:
    """Up to TALLY_TEXT_SYNC_MAX comments answer at once; more become a text.process_batch job."""
    items = [c if isinstance(c, str) else c.model_dump() for c in body.comments]
    if len(items) > runtime.settings.text.sync_max:
        kwargs = {"comments": items, "top": body.top, "store": body.store}
        record, _ = runtime.jobs.enqueue(keys.TASK_TEXT_BATCH, kwargs=kwargs)
        content = {"job_id": record.job_id, "status": "queued", **job_links(record.job_id)}
        return JSONResponse(status_code=202, content=content)
    given = comments_of(items)
    analysed = await run_in_threadpool(lambda: analyse_all(given, top=body.top))
    return {"results": [a.as_dict() for a in analysed], "summary": summary(analysed, body.top)}
