"""Talking to any OpenAI-compatible endpoint: concurrency limit, retries with backoff, a response cache.

Native tool calling is used where the endpoint supports it; where it refuses
`tools`, the tools go into the system prompt and calls are parsed from the reply
(`<tool_call>{"name": ..., "arguments": {...}}</tool_call>`).
"""

import hashlib
import json
import logging
import os
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import openai

from servers import canonical_json
from synthesizer.errors import LLMError

__all__ = ["ChatModel", "ChatReply", "ResponseCache", "parse_text_tool_calls", "text_protocol_prompt"]

logger = logging.getLogger(__name__)

_RETRYABLE = (
    openai.RateLimitError,
    openai.InternalServerError,
    openai.APITimeoutError,
    openai.APIConnectionError,
    json.JSONDecodeError,  # a body that is not JSON (a proxy's error page): worth another try, then a reject
)
_TOOL_CALL = re.compile(r"<tool_call>\s*(\{.*?\})\s*</tool_call>", re.DOTALL)


@dataclass
class ChatReply:
    """An assistant reply: its text, any tool calls, and any reasoning the endpoint returned separately."""

    content: str
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    reasoning: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"content": self.content, "tool_calls": self.tool_calls, "reasoning": self.reasoning}


class ResponseCache:
    """Replies keyed by the full request; a re-run costs no request and resumes where it stopped."""

    def __init__(self, get: Callable[[str], str | None], put: Callable[[str, str, str], None]) -> None:
        self._get = get
        self._put = put

    def get(self, key: str) -> ChatReply | None:
        raw = self._get(key)
        return ChatReply(**json.loads(raw)) if raw is not None else None

    def put(self, key: str, request: dict[str, Any], reply: ChatReply) -> None:
        # The reply keeps its key order: replayed into the next request it must read exactly as first sent.
        self._put(key, canonical_json(request), json.dumps(reply.to_json(), ensure_ascii=False))


class ChatModel:
    """An OpenAI-compatible chat endpoint (OpenAI, vLLM, SGLang, Ollama, ...)."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        concurrency: int = 16,
        max_retries: int = 5,
        backoff_s: float = 0.5,
        timeout_s: float = 120.0,
        cache: ResponseCache | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self._client_options = {
            "base_url": base_url,
            "api_key": api_key or os.environ.get("OPENAI_API_KEY") or "no-key-needed",
            "max_retries": 0,
            "timeout": timeout_s,
        }
        self._client: openai.AsyncOpenAI | None = None
        self.limit = anyio.Semaphore(concurrency)
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.cache = cache
        self.native_tools = True
        self.requests_sent = 0
        self._sleep = sleep

    async def aclose(self) -> None:
        """Close the HTTP client; the next request opens a new one (in whatever event loop runs it)."""
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def chat(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None, *, temperature: float = 0.0
    ) -> ChatReply:
        """One completion; cached by the full request, retried on 429/5xx/timeouts/dropped connections."""
        if self.cache is None:  # the key is a canonical dump of the whole request: only worth it for a cache
            return await self._complete(messages, tools or [], temperature)
        request = {"model": self.model, "messages": messages, "tools": tools or [], "temperature": temperature}
        key = hashlib.sha256(canonical_json(request).encode()).hexdigest()
        if (cached := self.cache.get(key)) is not None:
            return cached
        reply = await self._complete(messages, tools or [], temperature)
        self.cache.put(key, request, reply)
        return reply

    async def _complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], temperature: float
    ) -> ChatReply:
        for attempt in range(self.max_retries + 1):
            try:
                async with self.limit:
                    self.requests_sent += 1
                    return await self._send(messages, tools, temperature)
            except openai.BadRequestError as error:
                if tools and self.native_tools and "tool" in str(error).lower():
                    logger.info("%s refuses native tools; switching to the text protocol", self.model)
                    self.native_tools = False
                    continue
                raise LLMError(f"the endpoint refused the request: {error}") from error
            except _RETRYABLE as error:
                if attempt == self.max_retries:
                    raise LLMError(
                        f"the endpoint failed {attempt + 1} times: {type(error).__name__}: {error}"
                    ) from error
                delay = self.backoff_s * 2**attempt * (1 + random.random() / 4)
                logger.info("retrying in %.2fs after %s", delay, type(error).__name__)
                await self._sleep(delay)
            except openai.APIError as error:
                raise LLMError(f"the endpoint answered with an error: {error}") from error
        raise LLMError("the endpoint gave no usable answer")

    async def _send(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], temperature: float) -> ChatReply:
        if tools and not self.native_tools:
            messages = [{"role": "system", "content": text_protocol_prompt(tools)}, *_as_text_protocol(messages)]
        options: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": temperature}
        if tools and self.native_tools:
            options["tools"] = tools
        if self._client is None:
            self._client = openai.AsyncOpenAI(**self._client_options)
        response = await self._client.chat.completions.create(**options)
        if not response.choices:
            raise LLMError("the endpoint answered with no choices")
        message = response.choices[0].message
        content = message.content or ""
        reasoning = getattr(message, "reasoning_content", None) or ""
        if message.tool_calls:
            calls = [_native_call(call) for call in message.tool_calls]
        else:
            content, calls = parse_text_tool_calls(content)
        return ChatReply(content=content, tool_calls=calls, reasoning=reasoning)


def text_protocol_prompt(tools: list[dict[str, Any]]) -> str:
    """The system prompt that describes tools to a model without native tool calling."""
    described = "\n".join(json.dumps(tool["function"], ensure_ascii=False) for tool in tools)
    return (
        "You can call these tools:\n"
        f"{described}\n"
        'To call one, write <tool_call>{"name": "TOOL", "arguments": {...}}</tool_call> '
        "(one block per call). Tool results come back in messages that start with 'Tool result'."
    )


def parse_text_tool_calls(content: str) -> tuple[str, list[dict[str, Any]]]:
    """Split a text-protocol reply into its prose and its calls; an unreadable call is kept as an error."""
    calls = []
    for match in _TOOL_CALL.finditer(content):
        try:
            data = json.loads(match.group(1))
            calls.append({"name": str(data["name"]), "arguments": dict(data.get("arguments") or {})})
        except (ValueError, KeyError, TypeError):
            calls.append({"name": "", "arguments": {}, "error": f"unreadable tool call: {match.group(1)[:200]}"})
    return _TOOL_CALL.sub("", content).strip(), calls


def _native_call(call: Any) -> dict[str, Any]:
    try:
        arguments = json.loads(call.function.arguments or "{}")
        if not isinstance(arguments, dict):
            raise ValueError("arguments are not an object")
    except ValueError as error:
        return {"name": call.function.name, "arguments": {}, "error": f"arguments are not valid JSON: {error}"}
    return {"name": call.function.name, "arguments": arguments}


def _as_text_protocol(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rewrite tool calls and tool results as plain text for endpoints without tool support."""
    converted = []
    for message in messages:
        if message["role"] == "tool":
            converted.append(
                {"role": "user", "content": f"Tool result ({message.get('name', 'tool')}): {message['content']}"}
            )
        elif message["role"] == "assistant" and message.get("tool_calls"):
            calls = "".join(_text_call(call["function"]) for call in message["tool_calls"])
            converted.append({"role": "assistant", "content": (message.get("content") or "") + calls})
        else:
            converted.append(message)
    return converted


def _text_call(function: dict[str, Any]) -> str:
    call = {"name": function["name"], "arguments": json.loads(function["arguments"])}
    return f"<tool_call>{json.dumps(call, ensure_ascii=False)}</tool_call>"
