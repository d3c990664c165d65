"""Evaluators for `plaudit.evaluate`: `Score`, and `llm_judge` for any OpenAI-compatible model.

An evaluator is any `fn(input, output, expected, metadata)` returning a number, a bool, a
`Score(value, comment=…)` or a dict of them by score name. A single score is named after the
evaluator (its `name` attribute, else its function name).

    judge = plaudit.evals.llm_judge(
        url="http://127.0.0.1:11434/v1", model="llama3",
        prompt="Rate 0 to 1 how well {{output}} answers {{input}} (expected {{expected}}). "
               'Answer as JSON: {"score": x, "reason": "…"}',
    )

The judge retries 429 and 5xx answers with exponential backoff (honouring `Retry-After`); an
answer it cannot read, or a judge that keeps failing, raises `JudgeError`, which the evaluation
records as that row's error.
"""

import json
import math
import random
import re
import time
from dataclasses import dataclass
from typing import Any, Final

import httpx

from plaudit.sdk._safety import PlauditSdkError

# Our own generator: the app's `random` state (which it may seed, or which a test framework
# watches) is left alone by the SDK's background threads.
_JITTER = random.Random()

RETRYABLE: Final = frozenset({429, 500, 502, 503, 504})
_FENCE: Final = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")
_NUMBER: Final = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")


@dataclass(frozen=True)
class Score:
    """One score with an optional comment (an LLM judge's reason, say)."""

    value: bool | int | float
    comment: str | None = None


class JudgeError(PlauditSdkError):
    """The judge's answer could not be read, or the judge kept failing."""


def fill(template: str, input: Any, output: Any, expected: Any) -> str:
    """`template` with `{{input}}`, `{{output}}` and `{{expected}}` filled in (text as is,
    anything else as JSON)."""
    values = {"input": input, "output": output, "expected": expected}
    return re.sub(
        r"\{\{\s*(input|output|expected)\s*\}\}",
        lambda match: _text(values[match.group(1)]),
        template,
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def read_answer(content: str) -> Score:
    """A judge's answer as a score: `{"score": x, "reason": "…"}` (in a code fence or not) or
    a bare number; JudgeError for anything else."""
    text = _FENCE.sub("", content.strip()).strip()
    if _NUMBER.match(text):
        return Score(_finite(float(text), content))
    try:
        parsed = json.loads(text)
    except ValueError:
        raise JudgeError(f"unreadable judge answer: {content[:200]!r}") from None
    if isinstance(parsed, bool | int | float):
        return Score(_finite(parsed, content))
    if not isinstance(parsed, dict) or "score" not in parsed:
        raise JudgeError(f"the judge's answer has no score: {content[:200]!r}")
    value = parsed["score"]
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        value = float(value)
    if not isinstance(value, bool | int | float):
        raise JudgeError(f"the judge's score is not a number: {value!r}")
    reason = parsed.get("reason")
    return Score(_finite(value, content), None if reason is None else str(reason))


def _finite(value: bool | int | float, content: str) -> bool | int | float:
    if not isinstance(value, bool) and not math.isfinite(value):
        raise JudgeError(f"the judge's score is not a finite number: {content[:200]!r}")
    return value


class LlmJudge:
    """An evaluator asking an OpenAI-compatible `/chat/completions` endpoint for a score."""

    def __init__(
        self,
        url: str,
        model: str,
        prompt: str,
        api_key: str | None = None,
        *,
        name: str = "llm-judge",
        timeout: float = 60.0,
        max_retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        base = url.rstrip("/")
        self.endpoint = base if base.endswith("/chat/completions") else f"{base}/chat/completions"
        self.model = model
        self.prompt = prompt
        self.name = name
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(headers=headers, timeout=timeout)

    def __call__(self, input: Any, output: Any, expected: Any, metadata: Any) -> Score:
        """The judge's score of one row (JudgeError when it cannot be had)."""
        message = fill(self.prompt, input, output, expected)
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": message}],
            "temperature": 0,
        }
        answer = self._post(body)
        try:
            content = answer["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise JudgeError(f"not a chat completion: {str(answer)[:200]!r}") from None
        if not isinstance(content, str):
            raise JudgeError(f"the judge's answer has no text: {content!r}")
        return read_answer(content)

    def _post(self, body: dict[str, Any]) -> Any:
        problem, hint = "no attempt made", None
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self._delay(attempt, hint))
            try:
                response = self._http.post(self.endpoint, json=body)
            except httpx.TransportError as error:
                problem, hint = f"{type(error).__name__}: {error}", None
                continue
            if response.status_code in RETRYABLE:
                problem, hint = f"HTTP {response.status_code}", response.headers.get("retry-after")
                continue
            if response.status_code >= 400:
                detail = f"HTTP {response.status_code} {response.text[:200]}"
                raise JudgeError(f"the judge refused: {detail}")
            try:
                return response.json()
            except ValueError:
                raise JudgeError(f"the judge answered no JSON: {response.text[:200]!r}") from None
        raise JudgeError(f"the judge kept failing ({problem}) after {self.max_retries + 1} tries")

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        """Exponential backoff with jitter; a `Retry-After` in seconds wins, up to the cap."""
        if retry_after is not None and retry_after.strip().isdigit():
            return min(float(retry_after), self.max_backoff)
        ceiling = min(self.backoff * 2.0 ** (attempt - 1), self.max_backoff)
        return ceiling * _JITTER.uniform(0.5, 1)

    def close(self) -> None:
        """Close the judge's connections."""
        self._http.close()


def llm_judge(
    url: str,
    model: str,
    prompt: str,
    api_key: str | None = None,
    *,
    name: str = "llm-judge",
    timeout: float = 60.0,
    max_retries: int = 5,
    backoff: float = 0.5,
) -> LlmJudge:
    """An evaluator that asks the model at `url` (an OpenAI-compatible API base such as
    `https://api.openai.com/v1`, or its `/chat/completions` URL) to score each row.

    `prompt` may use `{{input}}`, `{{output}}` and `{{expected}}`; the model answers
    `{"score": x, "reason": "…"}` or a bare number. Its score is named `name`.
    """
    return LlmJudge(
        url,
        model,
        prompt,
        api_key,
        name=name,
        timeout=timeout,
        max_retries=max_retries,
        backoff=backoff,
    )
