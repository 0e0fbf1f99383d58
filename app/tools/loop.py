"""The tool loop: offer the tools, run the calls the model makes, give it the results
and ask again, up to ``TOOLS_MAX_ROUNDS`` model rounds within the request's deadline.

The calls of one round run concurrently on a thread pool (greenlets under gevent's
monkey-patching); a call that outlives its timeout becomes a ``timeout`` result and is
left behind. Every round's usage is added up (:attr:`Toolset.usage`) so a turn is
charged for all its rounds, also when a later round fails. Nothing here touches the
database: the calls are collected in :attr:`Toolset.records` and stored with the turn.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace

from app.llm.base import (
    ChatProvider,
    ChatRequest,
    Completion,
    StreamChunk,
    ToolCall,
    ToolResult,
    ToolRound,
    ToolSpec,
    Usage,
)
from app.tools.base import CallRecord, Limits, Tool
from app.tools.runner import finish, run_call

MAX_PARALLEL_CALLS = 8
MAX_CALLS_PER_ROUND = 16  # beyond these, a round's calls are answered "not run"
# Past its own timeout a call gets this much longer to report its own error.
GRACE_SECONDS = 0.5


def limit_notice(rounds: int) -> str:
    return f"[stopped: the model was still calling tools after {rounds} rounds]"


@dataclass
class Toolset:
    """The tools offered in one request, and what the loop did with them."""

    tools: dict[str, Tool]
    limits: Limits
    max_rounds: int
    records: list[CallRecord] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)  # every model round so far

    @property
    def specs(self) -> tuple[ToolSpec, ...]:
        return tuple(tool.spec for tool in self.tools.values())

    def count(self, used: Usage | None) -> None:
        if used is not None:
            self.usage.prompt_tokens += used.prompt_tokens
            self.usage.completion_tokens += used.completion_tokens

    def run_round(
        self, calls: list[ToolCall], round_number: int, remaining: float
    ) -> tuple[ToolResult, ...]:
        """Run a round's calls at once; each result in the order of the calls."""
        timeout = max(0.001, min(self.limits.timeout, remaining))
        limits = replace(self.limits, timeout=timeout)
        started = time.perf_counter()
        pool = ThreadPoolExecutor(max_workers=min(len(calls), MAX_PARALLEL_CALLS))
        try:
            futures = [
                pool.submit(run_call, self.tools.get(c.name), c, limits, round_number)
                if i < MAX_CALLS_PER_ROUND
                else pool.submit(too_many, c, limits, round_number)
                for i, c in enumerate(calls)
            ]
            done, _ = wait(futures, timeout=timeout + GRACE_SECONDS)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        results = []
        for call, future in zip(calls, futures, strict=True):
            if future in done:
                result, record = future.result()
            else:
                tool = self.tools.get(call.name)
                result, record = finish(
                    call,
                    tool.kind if tool else "unknown",
                    "timeout",
                    f"the tool did not answer within {timeout:g}s",
                    started,
                    limits,
                    round_number,
                )
            results.append(result)
            self.records.append(record)
        return tuple(results)


def too_many(call: ToolCall, limits: Limits, round_number: int) -> tuple[ToolResult, CallRecord]:
    message = f"not run: at most {MAX_CALLS_PER_ROUND} calls in one round"
    return finish(call, "unknown", "error", message, time.perf_counter(), limits, round_number)


def complete(
    provider: ChatProvider,
    request: ChatRequest,
    toolset: Toolset,
    remaining: Callable[[], float],
) -> Completion:
    """The model's final answer after as many tool rounds as it needs (and may have)."""
    rounds: list[ToolRound] = []
    for number in range(1, toolset.max_rounds + 1):
        asked = replace(request, tools=toolset.specs, rounds=tuple(rounds))
        completion = provider.complete(asked, timeout=remaining())
        toolset.count(completion.usage)
        if not completion.tool_calls:
            return replace(completion, usage=replace(toolset.usage))
        if number == toolset.max_rounds:
            return replace(
                completion,
                content=completion.content or limit_notice(number),
                usage=replace(toolset.usage),
                tool_calls=[],
            )
        results = toolset.run_round(completion.tool_calls, number, remaining())
        rounds.append(ToolRound(completion.content, tuple(completion.tool_calls), results))
    raise AssertionError("unreachable: the last round returns")


def stream(
    provider: ChatProvider,
    request: ChatRequest,
    toolset: Toolset,
    remaining: Callable[[], float],
) -> Generator[StreamChunk, None, None]:
    """Text deltas of every round as they come, a chunk with ``tool_results`` after each
    round of calls, and one last chunk with the usage of all rounds."""
    rounds: list[ToolRound] = []
    for number in range(1, toolset.max_rounds + 1):
        asked = replace(request, tools=toolset.specs, rounds=tuple(rounds))
        chunks = provider.stream(asked, timeout=remaining())
        text: list[str] = []
        last = StreamChunk()
        try:
            for chunk in chunks:
                if chunk.delta:
                    text.append(chunk.delta)
                    yield StreamChunk(delta=chunk.delta)
                if chunk.usage is not None or chunk.finish_reason is not None:
                    last = chunk
        finally:
            chunks.close()
        toolset.count(last.usage)
        if not last.tool_calls or number == toolset.max_rounds:
            if last.tool_calls and not text:
                yield StreamChunk(delta=limit_notice(number))
            finish_reason = "tool_calls" if last.tool_calls else last.finish_reason or "stop"
            yield StreamChunk(usage=replace(toolset.usage), finish_reason=finish_reason)
            return
        results = toolset.run_round(last.tool_calls, number, remaining())
        yield StreamChunk(tool_results=list(results))
        rounds.append(ToolRound("".join(text), tuple(last.tool_calls), results))
