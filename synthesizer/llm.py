"""Talking to any OpenAI-compatible endpoint: concurrency limit, retries with backoff, a response cache.

Native tool calling is used where the endpoint supports it; where it refuses
`tools` (a 400 or a 500 that says so, as llama.cpp without `--jinja` answers), the
tools go into the system prompt and calls are read from the reply text.  Errors
are sorted at this one boundary: a misconfigured endpoint stops the command
(`EndpointError`), a busy one that outlasts the retries leaves the trajectory
pending (`EndpointUnavailable`), an unusable answer is a reject (`LLMError`).
"""

import hashlib
import json
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
import openai
import orjson

from servers import canonical_json
from synthesizer.errors import EndpointError, EndpointUnavailable, LLMError
from synthesizer.toolcalls import native_call, read_reply

__all__ = ["ChatModel", "ChatReply", "ResponseCache", "Usage", "text_protocol_prompt"]

logger = logging.getLogger(__name__)

_BUSY = (openai.RateLimitError, openai.InternalServerError, openai.APITimeoutError, openai.APIConnectionError)
_REFUSES_TOOLS = ("tool", "jinja", "function call")
_POST_OPTIONS: dict[str, Any] = {"headers": {"Content-Type": "application/json"}, "security": {"bearer_auth": True}}
_REQUESTS_PER_CLIENT = 8
"""Concurrent requests per SDK client (each has its own connection pool).  Handing out a request,
the pool checks every idle connection of its own for a server-side close, one system call each,
so the client CPU of a request grew with the pool: one pool of 32 cost 1.17 ms a request, four of
8 cost 1.07 ms, at concurrency 32 against the delayed local server (`bench/llm.py`)."""


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


@dataclass
class Usage:
    """What the endpoint was asked for and gave: requests, tokens, seconds spent waiting on answers."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


class ChatModel:
    """An OpenAI-compatible chat endpoint (OpenAI, vLLM, SGLang, Ollama, llama.cpp, ...)."""

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
        max_tokens: int | None = None,
        temperature: float = 0.0,
        extra_body: dict[str, Any] | None = None,
        cache: ResponseCache | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.model = model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        self._client_options = {
            "base_url": self.base_url,
            "api_key": api_key or os.environ.get("OPENAI_API_KEY") or "no-key-needed",
            "max_retries": 0,
            "timeout": timeout_s,
        }
        self._clients: list[openai.AsyncOpenAI] = []
        self._client_count = -(-concurrency // _REQUESTS_PER_CLIENT)
        self.limit = anyio.Semaphore(concurrency)
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.extra_body = extra_body or {}
        self.cache = cache
        self.native_tools = True
        self.usage = Usage()
        self._answered = False
        self._sleep = sleep

    @property
    def requests_sent(self) -> int:
        return self.usage.requests

    @property
    def endpoint(self) -> str:
        """Endpoint and model: what makes two runs' answers comparable (the skip and cache keys hold it)."""
        return f"{self.base_url.rstrip('/')}|{self.model}"

    async def aclose(self) -> None:
        """Close the HTTP clients; the next request opens new ones (in whatever event loop runs it)."""
        clients, self._clients = self._clients, []
        for client in clients:
            await client.close()

    async def chat(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        *,
        temperature: float | None = None,
    ) -> ChatReply:
        """One completion; cached by the full request, retried on 429/5xx/timeouts/dropped connections."""
        options: dict[str, Any] = {
            "temperature": self.temperature if temperature is None else temperature,
            "max_tokens": self.max_tokens,
            "extra_body": self.extra_body,
        }
        if self.cache is None:  # the key is a canonical dump of the whole request: only worth it for a cache
            return await self._complete(messages, tools or [], options)
        request = {"endpoint": self.base_url, "model": self.model, "messages": messages, "tools": tools or []}
        request |= {key: value for key, value in options.items() if value}
        key = hashlib.sha256(canonical_json(request).encode()).hexdigest()
        if (cached := self.cache.get(key)) is not None:
            return cached
        reply = await self._complete(messages, tools or [], options)
        self.cache.put(key, request, reply)
        return reply

    async def _complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], options: dict[str, Any]
    ) -> ChatReply:
        attempt = 0
        while True:
            try:
                async with self.limit:
                    return await self._send(messages, tools, options)
            except (openai.AuthenticationError, openai.PermissionDeniedError) as error:
                raise self._misconfigured(error, "check --api-key (or OPENAI_API_KEY)") from error
            except openai.NotFoundError as error:
                raise self._misconfigured(error, _not_found_advice(error, self.model)) from error
            except (openai.BadRequestError, openai.InternalServerError) as error:
                if tools and self.native_tools and _refuses_tools(error):
                    logger.warning("%s refuses native tools (%s); tools go into the prompt", self.model, _said(error))
                    self.native_tools = False
                    continue
                if _unknown_model(error):
                    raise self._misconfigured(error, _not_found_advice(error, self.model)) from error
                if isinstance(error, openai.BadRequestError):
                    raise LLMError(f"the endpoint refused the request: {_said(error)}") from error
                attempt = await self._back_off(attempt, error)
            except openai.APIConnectionError as error:
                if not self._answered and not isinstance(error, openai.APITimeoutError) and _refused(error):
                    raise EndpointError(
                        f"{self.base_url} (model {self.model}): nothing answers there (connection refused); "
                        "is the server running, and is --base-url right?"
                    ) from error
                attempt = await self._back_off(attempt, error)
            except _BUSY as error:
                attempt = await self._back_off(attempt, error)
            except json.JSONDecodeError as error:  # a 200 whose body is not JSON (a proxy's error page)
                if attempt == self.max_retries:
                    raise LLMError(f"the endpoint answered with a body that is not JSON: {error}") from error
                attempt = await self._back_off(attempt, error)
            except openai.APIError as error:
                raise LLMError(f"the endpoint answered with an error: {_said(error)}") from error

    async def _back_off(self, attempt: int, error: Exception) -> int:
        """Wait before the next try; past the last, the trajectory is given up for this run, not rejected."""
        if attempt >= self.max_retries:
            raise EndpointUnavailable(
                f"{self.base_url} (model {self.model}) failed {attempt + 1} times, last with "
                f"{type(error).__name__}: {_said(error)}; the trajectory stays pending, run again to resume"
            ) from error
        delay = self.backoff_s * 2**attempt * (1 + random.random() / 4)
        logger.info("retrying in %.2fs after %s", delay, type(error).__name__)
        await self._sleep(delay)
        return attempt + 1

    def _misconfigured(self, error: Exception, advice: str) -> EndpointError:
        return EndpointError(f"{self.base_url} (model {self.model}): {_said(error)}; {advice}")

    async def _send(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], options: dict[str, Any]
    ) -> ChatReply:
        if tools and not self.native_tools:
            messages = [{"role": "system", "content": text_protocol_prompt(tools)}, *_as_text_protocol(messages)]
        request: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": options["temperature"]}
        if options["max_tokens"]:
            request["max_tokens"] = options["max_tokens"]
        if tools and self.native_tools:
            request["tools"] = tools
        request |= options["extra_body"]
        if not self._clients:
            self._clients = [openai.AsyncOpenAI(**self._client_options) for _ in range(self._client_count)]
        client = self._clients[self.usage.requests % len(self._clients)]  # in turn
        self.usage.requests += 1
        started = time.perf_counter()
        try:
            # The SDK's `create` walks every message and tool schema to transform it and builds a pydantic
            # model of the answer: over half of a request's client CPU.  `post` sends the body as it is (the
            # same JSON) through the same client: same headers, auth, timeouts and status errors.
            response = await client.post(
                "/chat/completions", content=_json_bytes(request), cast_to=httpx2.Response, options=_POST_OPTIONS
            )
        finally:
            self.usage.seconds += time.perf_counter() - started
        self._answered = True
        return self._read_completion(orjson.loads(response.content), tools)

    def _read_completion(self, completion: Any, tools: list[dict[str, Any]]) -> ChatReply:
        """The reply in a chat completion's JSON; its token counts go to `usage`."""
        if not isinstance(completion, dict):
            raise LLMError(f"the endpoint answered with JSON that is not a chat completion: {str(completion)[:200]}")
        usage = completion.get("usage") or {}
        self.usage.prompt_tokens += usage.get("prompt_tokens") or 0
        self.usage.completion_tokens += usage.get("completion_tokens") or 0
        choices = completion.get("choices")
        if not choices:
            raise LLMError("the endpoint answered with no choices")
        return _reply(choices[0].get("message") or {}, [tool["function"]["name"] for tool in tools])


def text_protocol_prompt(tools: list[dict[str, Any]]) -> str:
    """The system prompt that describes tools to a model without native tool calling."""
    described = "\n".join(json.dumps(tool["function"], ensure_ascii=False) for tool in tools)
    return (
        "You can call these tools:\n"
        f"{described}\n"
        'To call one, write <tool_call>{"name": "TOOL", "arguments": {...}}</tool_call> '
        "(one block per call). Tool results come back in messages that start with 'Tool result'."
    )


def _reply(message: dict[str, Any], tool_names: list[str]) -> ChatReply:
    """Prose, reasoning and calls from an API message, wherever the model put each."""
    separate = message.get("reasoning_content") or message.get("reasoning") or ""
    parsed = read_reply(message.get("content") or "", tool_names or None)
    calls = parsed.tool_calls
    if message.get("tool_calls"):
        functions = [call.get("function") or {} for call in message["tool_calls"]]
        calls = [native_call(f.get("name") or "", f.get("arguments"), tool_names or None) for f in functions]
    reasoning = "\n\n".join(part for part in (str(separate).strip(), parsed.reasoning) if part)
    return ChatReply(content=parsed.content, tool_calls=calls, reasoning=reasoning)


def _json_bytes(request: dict[str, Any]) -> bytes:
    """The request body as the SDK would write it; orjson is several times faster than the stdlib's `json`,
    which stays for what orjson refuses (integers past 64 bits, keys that are not strings)."""
    try:
        return orjson.dumps(request)
    except TypeError:
        return json.dumps(request, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _said(error: Exception) -> str:
    """What the endpoint said, on one line."""
    body = getattr(error, "body", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]
    message = body.get("message") if isinstance(body, dict) else None
    status = getattr(error, "status_code", None)
    text = " ".join(str(message or error).split())[:300]
    return f"HTTP {status}: {text}" if status and message else text


def _refuses_tools(error: openai.APIStatusError) -> bool:
    said = _said(error).lower()
    return any(word in said for word in _REFUSES_TOOLS) and ("support" in said or "jinja" in said or "not" in said)


def _unknown_model(error: openai.APIStatusError) -> bool:
    said = _said(error).lower()
    return "model" in said and any(words in said for words in ("not found", "does not exist", "unknown", "not served"))


def _not_found_advice(error: openai.APIStatusError, model: str) -> str:
    if "model" in _said(error).lower():
        return f"check --model (is {model!r} served there? GET {{base-url}}/models lists what is)"
    return "check --base-url (most servers want it to end in /v1)"


def _refused(error: Exception) -> bool:
    """Nothing listens there (as opposed to a connection that dropped mid-answer)."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, httpx2.ConnectError | ConnectionRefusedError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


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
