"""The one exception tree of polymux.

Names mirror the OpenAI SDK's, so code that catches ``openai.RateLimitError`` reads the same
here. Retry and fallback decide from these types (and ``status_code``), never from message text::

    PolymuxError
     ├── APIError                          a provider call failed
     │    ├── APIStatusError               the provider answered with an HTTP error status
     │    │    ├── BadRequestError             400
     │    │    ├── AuthenticationError         401
     │    │    ├── PermissionDeniedError       403
     │    │    ├── NotFoundError               404
     │    │    ├── ConflictError               409
     │    │    ├── UnprocessableEntityError    422
     │    │    ├── RateLimitError              429
     │    │    └── InternalServerError         >= 500
     │    ├── APIConnectionError           no usable answer: refused, reset, DNS, TLS ...
     │    │    └── APITimeoutError         a time limit was hit (``.limit`` says which)
     │    ├── APIResponseValidationError   the provider's answer broke its own wire format
     │    │    ├── EmptyResponseError      one of several providers answered with no content
     │    │    └── StructuredOutputError   parse(): the answer is not the requested shape
     │    ├── ProviderCooldownError        skipped: cooling down after 429s or failures
     │    └── ProviderError                a g4f-style provider's own code raised (``__cause__``)
     ├── InvalidRequestError (ValueError)  bad input, raised before any provider is called
     │    └── UnsupportedCapabilityError   the provider or model cannot serve this request
     ├── ConfigurationError                polymux was set up in a way that cannot work
     │    ├── MissingCredentialsError      no API key: names the argument and the env variable
     │    ├── UnknownProviderError         a provider name nobody registered
     │    └── NoProviderForModelError      no usable provider serves the model
     └── AllProvidersFailedError           every provider in a fallback list failed; ``.errors``

No exception message ever contains an API key: credentials errors name variables, not values,
and every error built from an upstream's text is redacted where it is made
(``polymux.transport.redact``), since some upstreams echo the request's headers back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AllProvidersFailedError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "EmptyResponseError",
    "InternalServerError",
    "InvalidRequestError",
    "MissingAuthError",
    "MissingCredentialsError",
    "ModelNotFoundError",
    "NestAsyncioError",
    "NoMediaResponseError",
    "NoProviderForModelError",
    "NotFoundError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "PolymuxError",
    "ProviderCooldownError",
    "ProviderError",
    "ProviderNotFoundError",
    "ProviderNotWorkingError",
    "RateLimitError",
    "ResponseError",
    "ResponseStatusError",
    "RetryProviderError",
    "StructuredOutputError",
    "UnknownProviderError",
    "UnprocessableEntityError",
    "UnsupportedCapabilityError",
    "status_error",
]


class PolymuxError(Exception):
    """Base class of every error polymux raises on purpose."""

    message: str

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class APIError(PolymuxError):
    """A call to a provider failed. ``provider`` names it; ``body`` is what it sent, if any."""

    def __init__(self, message: str, *, provider: str | None = None, body: object = None) -> None:
        super().__init__(message)
        self.provider = provider
        self.body = body


class APIStatusError(APIError):
    """The provider answered with an HTTP error status."""

    status_code: int

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        provider: str | None = None,
        body: object = None,
        headers: Mapping[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, provider=provider, body=body)
        self.status_code = status_code
        self.headers: Mapping[str, str] = dict(headers or {})
        self.retry_after = retry_after

    def __str__(self) -> str:
        who = f"{self.provider}: " if self.provider else ""
        return f"{who}HTTP {self.status_code}: {self.message}"


class BadRequestError(APIStatusError):
    """400: the provider rejected the request as malformed."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing, wrong or expired."""


class PermissionDeniedError(APIStatusError):
    """403: the key is valid but may not do this."""


class NotFoundError(APIStatusError):
    """404: unknown model, deployment or endpoint."""


class ConflictError(APIStatusError):
    """409: a conflicting request is in progress (retryable)."""


class UnprocessableEntityError(APIStatusError):
    """422: well-formed but semantically invalid request."""


class RateLimitError(APIStatusError):
    """429: too many requests or quota exhausted; ``retry_after`` says when to come back."""


class InternalServerError(APIStatusError):
    """5xx: the provider failed (retryable)."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error(
    status_code: int,
    message: str,
    *,
    provider: str | None = None,
    body: object = None,
    headers: Mapping[str, str] | None = None,
    retry_after: float | None = None,
) -> APIStatusError:
    """Build the right ``APIStatusError`` subclass for an HTTP status."""
    cls = _BY_STATUS.get(status_code)
    if cls is None:
        cls = InternalServerError if status_code >= 500 else APIStatusError
    return cls(
        message,
        status_code=status_code,
        provider=provider,
        body=body,
        headers=headers,
        retry_after=retry_after,
    )


class APIConnectionError(APIError):
    """No usable answer arrived: connection refused or reset, DNS or TLS failure."""


class APITimeoutError(APIConnectionError):
    """A time limit was hit. ``limit`` is one of connect, first_byte, idle, total."""

    def __init__(
        self, message: str, *, limit: str, seconds: float | None, provider: str | None = None
    ) -> None:
        super().__init__(message, provider=provider)
        self.limit = limit
        self.seconds = seconds


class APIResponseValidationError(APIError):
    """The provider's answer did not follow its own wire format (bad JSON, truncated stream)."""


class EmptyResponseError(APIResponseValidationError):
    """The provider ended its answer without any content. Raised only when other providers
    could be tried instead (a fallback list); a lone provider's empty answer is its answer."""


class StructuredOutputError(APIResponseValidationError):
    """``chat.completions.parse``: the answer does not validate as the requested model.

    ``raw`` is the text the model returned (also when it was cut short: ``finish_reason``
    says ``length``), ``errors`` what the validator said, ``completion`` the whole response.
    """

    def __init__(
        self,
        message: str,
        *,
        raw: str | None,
        provider: str | None = None,
        errors: object = None,
        completion: object = None,
        finish_reason: str | None = None,
    ) -> None:
        super().__init__(message, provider=provider, body=raw)
        self.raw = raw
        self.errors = errors
        self.completion = completion
        self.finish_reason = finish_reason


class ProviderCooldownError(APIError):
    """The provider was not called: it is cooling down after a rate limit or repeated
    failures (see ``polymux.routing.health``). ``retry_after``: seconds until it may be."""

    def __init__(self, provider: str, retry_after: float) -> None:
        super().__init__(
            f"{provider} is cooling down after rate limits or failures; "
            f"tried again in {retry_after:.1f}s",
            provider=provider,
        )
        self.retry_after = retry_after


class ProviderError(APIError):
    """A g4f-style provider's own code raised a foreign exception (its ``__cause__``).

    Such providers fail in many ad-hoc ways; as in the project they come from, another
    provider of a fallback list is tried next."""


class InvalidRequestError(PolymuxError, ValueError):
    """The caller's input is wrong; raised before any provider is called."""


class UnsupportedCapabilityError(InvalidRequestError):
    """The chosen provider or model cannot serve this request (vision, tools, images ...)."""


class ConfigurationError(PolymuxError):
    """polymux was configured in a way that cannot work."""


class MissingCredentialsError(ConfigurationError):
    """No API key was found. Names where one can be given, never a value."""

    def __init__(
        self, provider: str, *, argument: str = "api_key", env: Sequence[str] = ()
    ) -> None:
        where = f"pass {argument}=..."
        if env:
            where += " or set " + " or ".join(env)
        super().__init__(f"{provider} needs an API key: {where}")
        self.provider = provider
        self.argument = argument
        self.env = tuple(env)


class UnknownProviderError(ConfigurationError):
    """A provider name that no built-in, plugin or registration knows."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__(
            f"unknown provider {name!r}; known providers: {', '.join(sorted(known))}. "
            "Pass a Provider class or instance, or register one."
        )
        self.name = name
        self.known = tuple(known)


class NoProviderForModelError(ConfigurationError):
    """No usable provider serves the requested model."""

    def __init__(self, message: str, *, model: str, candidates: Mapping[str, str] | None = None):
        super().__init__(message)
        self.model = model
        # provider name -> what it needs to be usable here (e.g. "set GROQ_API_KEY")
        self.candidates: dict[str, str] = dict(candidates or {})


class AllProvidersFailedError(PolymuxError):
    """Every provider of a fallback list failed. ``errors`` holds ``(provider, error)`` in order."""

    def __init__(self, errors: Sequence[tuple[str, BaseException]]) -> None:
        lines = [f"  {name}: {type(err).__name__}: {err}" for name, err in errors]
        super().__init__(f"all {len(errors)} providers failed:\n" + "\n".join(lines))
        self.errors: list[tuple[str, BaseException]] = list(errors)

    @property
    def exceptions(self) -> list[BaseException]:
        return [err for _, err in self.errors]


# -- g4f's names --------------------------------------------------------------------------------
# Code written for g4f catches these names. Each is one of the errors above (an alias or a
# subclass), never a second tree: ``except ModelNotFoundError`` catches what polymux raises when
# no provider serves a model.
ModelNotFoundError = NoProviderForModelError
ProviderNotFoundError = UnknownProviderError
RetryProviderError = AllProvidersFailedError
ResponseError = APIError
ResponseStatusError = APIStatusError


class MissingAuthError(MissingCredentialsError):
    """g4f's name, raised by g4f-style providers with a message of their own
    (``raise MissingAuthError("no key")``); a fallback list moves on, as for any missing key."""

    def __init__(self, message: str = "", *, provider: str | None = None) -> None:
        ConfigurationError.__init__(self, message or "missing credentials")
        self.provider = provider or ""
        self.argument = "api_key"
        self.env = ()


class PaymentRequiredError(APIStatusError):
    """402: the account needs credit (g4f's name; polymux raises it for HTTP 402)."""


_BY_STATUS[402] = PaymentRequiredError


class ProviderNotWorkingError(ConfigurationError):
    """A g4f-style provider marked ``working = False`` was chosen; pass
    ``ignore_working=True`` to call it anyway."""


class NoMediaResponseError(APIResponseValidationError):
    """An image provider answered without any image."""


class NestAsyncioError(PolymuxError, RuntimeError):
    """g4f's name for "a sync call inside a running event loop". polymux's sync calls work
    there (they run on a private loop thread), so it never raises this; it exists so that
    ``except NestAsyncioError`` in g4f code still imports."""


def describe_body(body: Any) -> str:
    """A short human message from an error body of any shape hosts send."""
    if isinstance(body, Mapping):
        err = body.get("error", body)
        if isinstance(err, Mapping):
            msg = err.get("message") or err.get("msg") or err.get("detail") or err.get("status")
            if msg:
                return str(msg)
        elif isinstance(err, str) and err:
            return err
        for key in ("message", "detail", "msg"):
            if body.get(key):
                return str(body[key])
        return str(dict(body))[:500]
    if isinstance(body, (bytes, bytearray)):
        return body[:500].decode("utf-8", "replace")
    return str(body)[:500] if body is not None else "no body"
