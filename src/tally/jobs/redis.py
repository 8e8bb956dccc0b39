"""The job index in Redis: a hash per job, sorted sets listing them, every key with a TTL."""

from __future__ import annotations

import time
from typing import Any

import orjson
import redis

from tally import keys
from tally.infra.redis import redis_errors
from tally.jobs.base import DAY_S, JobIndex, QueueCounts, Retention
from tally.jobs.record import FINAL, JobRecord, Status, encode_fields

# Shared by the scripts: move a job's id between the sets of its queue after a transition.
# A finished id joins its status's history set, which is aged and capped; the hashes of ids
# pushed out by the cap are deleted with them, so memory stays bounded.
_MOVE = """
local function move(prefix, id, queue, status, created, now, ttl, cap)
  local active = prefix .. 'active:' .. queue
  local running = prefix .. 'running:' .. queue
  if status == 'running' then
    redis.call('ZADD', running, now, id)
    redis.call('ZADD', active, created, id)
  elseif status == 'queued' or status == 'retrying' then
    redis.call('ZREM', running, id)
    redis.call('ZADD', active, created, id)
  else
    redis.call('ZREM', running, id)
    redis.call('ZREM', active, id)
    redis.call('ZREM', prefix .. 'scheduled:' .. queue, id)
    local done = prefix .. 'done:' .. queue .. ':' .. status
    redis.call('ZADD', done, now, id)
    redis.call('ZREMRANGEBYSCORE', done, '-inf', now - ttl)
    local over = redis.call('ZCARD', done) - cap
    if over > 0 then
      local old = redis.call('ZRANGE', done, 0, over - 1)
      for _, gone in ipairs(old) do redis.call('DEL', JOB .. gone) end
      redis.call('ZREMRANGEBYRANK', done, 0, over - 1)
    end
    redis.call('EXPIRE', done, ttl)
  end
  redis.call('ZREMRANGEBYSCORE', active, '-inf', now - ttl)
  redis.call('EXPIRE', active, ttl)
  redis.call('EXPIRE', running, ttl)
end
"""

_CREATE = (
    "local JOB = ARGV[1]\n"
    + _MOVE
    + """
-- KEYS[1] job hash; ARGV: job prefix, jobs prefix, id, now, ttl, cap, eta, dispatch, fields...
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 9, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
local queue = redis.call('HGET', KEYS[1], 'queue')
local created = redis.call('HGET', KEYS[1], 'created_at')
move(ARGV[2], ARGV[3], queue, 'queued', created, tonumber(ARGV[4]), tonumber(ARGV[5]),
     tonumber(ARGV[6]))
if ARGV[8] ~= '' then
  redis.call('HSET', KEYS[1], 'dispatch', ARGV[8])
  local held = ARGV[2] .. 'scheduled:' .. queue
  redis.call('ZADD', held, tonumber(ARGV[7]), ARGV[3])
  redis.call('EXPIRE', held, tonumber(ARGV[5]))
end
return 1
"""
)

_TRANSITION = (
    "local JOB = ARGV[1]\n"
    + _MOVE
    + """
-- KEYS[1] job hash; ARGV: job prefix, jobs prefix, id, now, ttl, cap, status,
-- n (count of upsert pairs, written only where absent), upsert pairs, field pairs
local current = redis.call('HGET', KEYS[1], 'status')
if current == 'succeeded' or current == 'failed' or current == 'aborted' then return current end
local n = tonumber(ARGV[8])
if not current and n == 0 then return '' end
for i = 9, 8 + 2 * n, 2 do redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) end
for i = 9 + 2 * n, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'status', ARGV[7])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
local queue = redis.call('HGET', KEYS[1], 'queue')
local created = redis.call('HGET', KEYS[1], 'created_at') or ARGV[4]
move(ARGV[2], ARGV[3], queue, ARGV[7], created, tonumber(ARGV[4]), tonumber(ARGV[5]),
     tonumber(ARGV[6]))
return 'ok'
"""
)

_ABORT = (
    "local JOB = ARGV[1]\n"
    + _MOVE
    + """
-- KEYS[1] job hash; ARGV: job prefix, jobs prefix, id, now, ttl, cap
local current = redis.call('HGET', KEYS[1], 'status')
if not current then return '' end
if current == 'succeeded' or current == 'failed' or current == 'aborted' then return current end
redis.call('HSET', KEYS[1], 'abort_requested', '1')
if current == 'running' then return 'stopping' end
redis.call('HSET', KEYS[1], 'status', 'aborted', 'finished_at', ARGV[4])
local queue = redis.call('HGET', KEYS[1], 'queue')
move(ARGV[2], ARGV[3], queue, 'aborted', 0, tonumber(ARGV[4]), tonumber(ARGV[5]),
     tonumber(ARGV[6]))
return 'aborted_now'
"""
)

_PROGRESS = """
-- KEYS[1] job hash; ARGV: progress, message
local current = redis.call('HGET', KEYS[1], 'status')
if current == 'running' then
  redis.call('HSET', KEYS[1], 'progress', ARGV[1], 'progress_message', ARGV[2])
end
return redis.call('HGET', KEYS[1], 'abort_requested') == '1' and 1 or 0
"""

_CLAIM = """
-- KEYS[1] held set; ARGV: now, lease until, max
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(due) do redis.call('ZADD', KEYS[1], tonumber(ARGV[2]), id) end
return due
"""

CLAIM_BATCH = 500


class RedisJobIndex(JobIndex):
    """The job index on the deployment's Redis."""

    kind = "redis"

    def __init__(self, client: redis.Redis, retention: Retention) -> None:
        super().__init__(retention)
        self._r = client
        self._create = client.register_script(_CREATE)
        self._transition = client.register_script(_TRANSITION)
        self._abort = client.register_script(_ABORT)
        self._progress = client.register_script(_PROGRESS)
        self._claim = client.register_script(_CLAIM)

    def _common(self, job_id: str, now: float) -> list[Any]:
        r = self.retention
        return [keys.JOB_PREFIX, keys.JOBS_PREFIX, job_id, now, r.ttl_s, r.max_per_queue]

    def create(
        self, record: JobRecord, dispatch: dict[str, Any] | None = None
    ) -> tuple[JobRecord, bool]:
        held = dispatch is not None and record.eta is not None
        argv = [
            *self._common(record.job_id, record.created_at),
            record.eta or 0,
            orjson.dumps(dispatch).decode() if held else "",
            *_flat(record.to_fields()),
        ]
        created = self._call(self._create, keys=[keys.job(record.job_id)], args=argv)
        if created:
            return record, True
        existing = self.get(record.job_id)
        return (existing or record), False

    def get(self, job_id: str) -> JobRecord | None:
        raw = self._call(self._r.hgetall, keys.job(job_id))
        if not raw:
            return None
        return JobRecord.from_fields({k.decode(): v.decode() for k, v in raw.items()})

    def delete(self, job_id: str) -> None:
        record = self.get(job_id)
        with self._r.pipeline() as pipe:
            pipe.delete(keys.job(job_id))
            if record is not None:
                pipe.zrem(keys.jobs_active(record.queue), job_id)
                pipe.zrem(keys.jobs_scheduled(record.queue), job_id)
            self._call(pipe.execute)

    def transition(
        self, job_id: str, status: Status, *, upsert: dict[str, Any] | None = None, **fields: Any
    ) -> str:
        now = fields.get("finished_at") or fields.get("started_at") or time.time()
        absent = encode_fields({"job_id": job_id, **upsert}) if upsert else {}
        argv = [*self._common(job_id, now), status.value, len(absent), *_flat(absent)]
        argv += _flat(encode_fields(fields))
        out = self._call(self._transition, keys=[keys.job(job_id)], args=argv)
        return out.decode() if isinstance(out, bytes) else str(out or "")

    def progress(self, job_id: str, pct: int, message: str | None) -> bool:
        args = [pct, message or ""]
        return bool(self._call(self._progress, keys=[keys.job(job_id)], args=args))

    def abort(self, job_id: str, now: float) -> str:
        out = self._call(self._abort, keys=[keys.job(job_id)], args=self._common(job_id, now))
        return out.decode() if isinstance(out, bytes) else str(out or "")

    def aborts_requested(self, job_ids: list[str]) -> set[str]:
        with self._r.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hget(keys.job(job_id), "abort_requested")
            flags = self._call(pipe.execute)
        return {job_id for job_id, flag in zip(job_ids, flags, strict=True) if flag == b"1"}

    def reschedule(self, job_id: str, queue: str, eta: float, dispatch: dict[str, Any]) -> None:
        held = keys.jobs_scheduled(queue)
        with self._r.pipeline() as pipe:
            pipe.hset(keys.job(job_id), mapping={"dispatch": orjson.dumps(dispatch), "eta": eta})
            pipe.zadd(held, {job_id: eta})
            pipe.expire(held, self.retention.ttl_s)
            self._call(pipe.execute)

    def claim_due(self, queue: str, now: float, lease_s: float) -> list[tuple[str, dict[str, Any]]]:
        held = keys.jobs_scheduled(queue)
        ids = self._call(self._claim, keys=[held], args=[now, now + lease_s, CLAIM_BATCH])
        if not ids:
            return []
        with self._r.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hget(keys.job(job_id.decode()), "dispatch")
            payloads = self._call(pipe.execute)
        out: list[tuple[str, dict[str, Any]]] = []
        for raw_id, payload in zip(ids, payloads, strict=True):
            job_id = raw_id.decode()
            if payload is None:  # record expired or aborted meanwhile: nothing to send
                self.release(queue, job_id)
                continue
            out.append((job_id, orjson.loads(payload)))
        return out

    def release(self, queue: str, job_id: str) -> None:
        with self._r.pipeline() as pipe:
            pipe.zrem(keys.jobs_scheduled(queue), job_id)
            pipe.hdel(keys.job(job_id), "dispatch")
            self._call(pipe.execute)

    def recent(
        self, statuses: list[Status], queues: list[str], limit: int, task: str | None = None
    ) -> list[JobRecord]:
        sets: list[str] = []
        for queue in queues:
            if any(s not in FINAL for s in statuses):
                sets.append(keys.jobs_active(queue))
            sets += [keys.jobs_done(queue, s.value) for s in statuses if s in FINAL]
        # Newest first across sets: take each set's newest, merge, then read their hashes.
        scan = max(limit * 4, 200)
        with self._r.pipeline(transaction=False) as pipe:
            for name in sets:
                pipe.zrevrange(name, 0, scan - 1, withscores=True)
            ranked = self._call(pipe.execute)
        merged = sorted(
            ((score, member.decode()) for rows in ranked for member, score in rows), reverse=True
        )
        wanted = set(statuses)
        out: list[JobRecord] = []
        for start in range(0, len(merged), 200):
            chunk = [job_id for _, job_id in merged[start : start + 200]]
            with self._r.pipeline(transaction=False) as pipe:
                for job_id in chunk:
                    pipe.hgetall(keys.job(job_id))
                raws = self._call(pipe.execute)
            for raw in raws:
                if not raw:
                    continue
                record = JobRecord.from_fields({k.decode(): v.decode() for k, v in raw.items()})
                if record.status in wanted and task in (None, record.task):
                    out.append(record)
                    if len(out) >= limit:
                        return out
        return out

    def prune(self, queues: list[str], before: float) -> int:
        removed = 0
        for queue in queues:
            for status in FINAL:
                done = keys.jobs_done(queue, status.value)
                ids = self._call(self._r.zrangebyscore, done, "-inf", before, start=0, num=5000)
                if not ids:
                    continue
                with self._r.pipeline() as pipe:
                    for raw in ids:
                        pipe.delete(keys.job(raw.decode()))
                    pipe.zrem(done, *ids)
                    self._call(pipe.execute)
                removed += len(ids)
        return removed

    def counts(self, queue: str, now: float) -> QueueCounts:
        since = now - DAY_S
        with self._r.pipeline(transaction=False) as pipe:
            pipe.zcard(keys.jobs_running(queue))
            pipe.zcard(keys.jobs_scheduled(queue))
            for status in (Status.SUCCEEDED, Status.FAILED, Status.ABORTED):
                pipe.zcount(keys.jobs_done(queue, status.value), since, "+inf")
            running, held, ok, failed, aborted = self._call(pipe.execute)
        return QueueCounts(int(running), int(held), int(ok), int(failed), int(aborted))

    def finished_since(self, queues: list[str], status: Status, since: float) -> int:
        with self._r.pipeline(transaction=False) as pipe:
            for queue in queues:
                pipe.zcount(keys.jobs_done(queue, status.value), since, "+inf")
            return sum(int(n) for n in self._call(pipe.execute))

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        with redis_errors("job index"):
            return fn(*args, **kwargs)


def _flat(fields: dict[str, str]) -> list[str]:
    return [item for pair in fields.items() for item in pair]
