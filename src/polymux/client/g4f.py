"""g4f's call shapes on the OpenAI-shaped client, so a g4f script runs with only the package
name changed (README, "Coming from g4f").

- Positional arguments in g4f's order: ``create(messages, model, provider, stream, ...)`` and
  ``images.generate(prompt, model, provider, response_format, proxy)``; a model may be an
  object with a ``name`` (g4f's ``models.default``).
- g4f's keywords, with a meaning everywhere: ``proxies`` (a URL or a ``{"https": ...}`` dict),
  ``media`` / ``images`` as ``(data, name)`` pairs, ``image_name``, ``ignore_stream``,
  ``ignore_working``, ``download_media``, ``conversation``, ``web_search`` (see
  ``web_search_body``), and OpenAI's ``modalities`` / ``audio`` (sent as they are).
- The rule that keeps misspellings loud: any other keyword OpenAI's API does not have is
  handed on to the provider when every provider of the call is g4f-style (as g4f forwards
  keywords), and is a ``TypeError`` otherwise.

Only calls that use one of these take this path; an OpenAI-style call never does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, UnsupportedCapabilityError
from ..providers.base import Provider
from ..providers.legacy import CONVERSATIONS, LegacyProvider
from ..types.chat import ChatCompletion
from ..types.images import ImagesResponse
from ..types.request import ImageRef
from .params import _CHAT_KEYS, _IMAGE_KEYS

if TYPE_CHECKING:
    from .async_client import AsyncClient

__all__ = [
    "REQUIRED",
    "chat_arguments",
    "image_arguments",
    "needs_g4f_image",
    "proxy_from",
]

#: Default of ``messages`` / ``prompt`` so that they may come positionally instead.
REQUIRED: Any = type("Required", (), {"__repr__": lambda self: "<required>"})()

# g4f's positional order of each method.
_CHAT_ORDER = (
    "messages",
    "model",
    "provider",
    "stream",
    "proxy",
    "image",
    "image_name",
    "response_format",
    "max_tokens",
    "stop",
    "ignore_stream",
)
_IMAGE_ORDER = ("prompt", "model", "provider", "response_format", "proxy")
#: g4f keywords that only steer a g4f-style provider (forwarded to it, dropped otherwise).
_G4F_ONLY = ("ignore_stream", "ignore_working", "conversation", "image_name", "download_media")
#: OpenAI parameters polymux sends as given, in the request body.
_OPENAI_BODY = ("modalities", "audio")


def needs_g4f_image(
    args: tuple[Any, ...], model: Any, prompt: Any, params: Mapping[str, Any]
) -> bool:
    return (
        bool(args)
        or prompt is REQUIRED
        or (model is not None and type(model) is not str)
        or not _IMAGE_KEYS.issuperset(params)
    )


def _bind(
    where: str, order: Sequence[str], args: tuple[Any, ...], given: dict[str, Any]
) -> dict[str, Any]:
    """Positional arguments by g4f's order, merged with the keywords given."""
    if len(args) > len(order):
        raise TypeError(f"{where}() takes at most {len(order)} positional arguments")
    for name, value in zip(order, args):
        if given.get(name, REQUIRED) not in (REQUIRED, "", None, False):
            raise TypeError(f"{where}() got multiple values for argument {name!r}")
        given[name] = value
    return given


def _start(
    where: str, order: Sequence[str], args: tuple[Any, ...], keywords: dict[str, Any]
) -> dict[str, Any]:
    """Bind g4f's positional order; check the one required argument (the first); read a
    model object's name."""
    given = _bind(where, order, args, keywords)
    if given.get(order[0], REQUIRED) is REQUIRED:
        raise TypeError(f"{where}() missing required argument: {order[0]!r}")
    given["model"] = _model_name(given.get("model") or "")
    return given


def _model_name(model: Any) -> Any:
    name = getattr(model, "name", None)  # g4f's Model objects (polymux.models too)
    return name if isinstance(name, str) and not isinstance(model, str) else model


def proxy_from(value: Any) -> Any:
    """g4f's ``proxies=``: a URL, or requests' ``{"http": ..., "https": ...}`` dict."""
    if isinstance(value, Mapping):
        return value.get("all") or value.get("https") or value.get("http")
    return value


_AUDIO_FORMATS = {".wav": "wav", ".mp3": "mp3"}


def _pair(item: Any) -> tuple[Any, str | None]:
    """g4f's media item: ``(data, name)`` or the data alone."""
    if (
        isinstance(item, (tuple, list))
        and len(item) == 2
        and isinstance(item[1], (str, type(None)))
    ):
        return item[0], item[1]
    return item, getattr(item, "name", None)


def _audio_format(item: Any) -> str | None:
    _, name = _pair(item)
    if isinstance(name, str):
        for suffix, fmt in _AUDIO_FORMATS.items():
            if name.lower().endswith(suffix):
                return fmt
    return None


def _is_audio(item: Any) -> bool:
    return _audio_format(item) is not None


def _with_audio(messages: Any, items: Sequence[Any]) -> list[Any]:
    """The messages with the audio files as OpenAI ``input_audio`` parts of the last user
    message (wav or mp3, as OpenAI's audio models take them)."""
    import base64

    parts = []
    for item in items:
        data, _ = _pair(item)
        raw = data.read() if hasattr(data, "read") else data
        if isinstance(raw, str):
            with open(raw, "rb") as file:  # a path
                raw = file.read()
        encoded = base64.b64encode(bytes(raw)).decode("ascii")
        parts.append(
            {"type": "input_audio", "input_audio": {"data": encoded, "format": _audio_format(item)}}
        )
    out = [{"role": "user", "content": messages}] if isinstance(messages, str) else list(messages)
    for i in range(len(out) - 1, -1, -1):
        if isinstance(out[i], Mapping) and out[i].get("role") == "user":
            content = out[i].get("content")
            text = (
                [{"type": "text", "text": content}]
                if isinstance(content, str)
                else list(content or [])
            )
            out[i] = {**out[i], "content": [*text, *parts]}
            return out
    return [*out, {"role": "user", "content": parts}]


def _providers(client: AsyncClient, spec: Any, images: bool) -> list[Provider]:
    try:
        return client._providers_for(spec, images=images)
    except ConfigurationError:
        return []  # routed by model name: official providers only


def _all_g4f_style(providers: Sequence[Provider]) -> bool:
    return bool(providers) and all(isinstance(p, LegacyProvider) for p in providers)


def _common(given: dict[str, Any], g4f_style: bool, where: str) -> dict[str, Any]:
    """Translate g4f's keywords in ``given``; return what goes to a g4f-style provider."""
    forward: dict[str, Any] = {}
    if "proxies" in given:
        proxy = proxy_from(given.pop("proxies"))
        if proxy and not given.get("proxy"):
            given["proxy"] = proxy
    for key in _G4F_ONLY:
        if key in given:
            value = given.pop(key)
            if g4f_style and value is not None:
                forward[key] = value
    known = _CHAT_KEYS if where == "create" else _IMAGE_KEYS
    unknown = set(given) - known - {"model", "messages", "stream", "prompt"}
    if g4f_style:
        for key in unknown:
            forward[key] = given.pop(key)
    return forward


def chat_arguments(
    client: AsyncClient, args: tuple[Any, ...], keywords: dict[str, Any]
) -> dict[str, Any]:
    """The keywords of an OpenAI-style ``create`` call equivalent to a g4f-style one."""
    given = _start("create", _CHAT_ORDER, args, keywords)
    if given.get("stream") is None:
        given["stream"] = False
    media = given.pop("media", None) or []
    media = list(media) if isinstance(media, (list, tuple)) else [media]
    if isinstance(given.get("images"), Sequence):
        media += list(given.pop("images"))
    if given.get("image") is not None:
        media.insert(0, (given.pop("image"), given.pop("image_name", None)))
    audio = [item for item in media if _is_audio(item)]
    images = [item for item in media if not _is_audio(item)]
    if images:
        given["images"] = images
    if audio:
        given["messages"] = _with_audio(given["messages"], audio)
    if given.get("max_tokens") is None:
        given.pop("max_tokens", None)
    providers = _providers(client, given.get("provider"), images=False)
    g4f_style = _all_g4f_style(providers)
    web_search = given.pop("web_search", None)
    body = {key: given.pop(key) for key in _OPENAI_BODY if key in given}
    forward = _common(given, g4f_style, "create")
    if web_search:
        if g4f_style:
            forward["web_search"] = True
        else:
            body.update(web_search_body(providers, given))
    if forward or body:
        given["extra_body"] = {**body, **forward, **dict(given.get("extra_body") or {})}
    if g4f_style:
        given[KEEP_CONVERSATION] = forward.get("conversation")
    return given


#: Set in ``chat_arguments``' result for a call to g4f-style providers: the ``conversation``
#: given (or None); ``create`` pops it and wraps a non-streamed answer in ``with_conversation``.
KEEP_CONVERSATION = "__g4f_conversation__"


async def with_conversation(pending: Awaitable[ChatCompletion], given: Any) -> ChatCompletion:
    """The answer, with the conversation state its g4f-style provider yielded (else the one
    given) as ``response.conversation``, as g4f returns it."""
    kept: list[Any] = []
    token = CONVERSATIONS.set(kept)
    try:
        response = await pending
    finally:
        CONVERSATIONS.reset(token)
    response.conversation = kept[-1] if kept else given
    return response


def image_arguments(
    client: AsyncClient, args: tuple[Any, ...], keywords: dict[str, Any]
) -> dict[str, Any]:
    """The keywords of an OpenAI-style ``images.generate`` call equivalent to a g4f-style one."""
    given = _start("generate", _IMAGE_ORDER, args, keywords)
    providers = _providers(client, given.get("provider"), images=True)
    g4f_style = _all_g4f_style(providers)
    audio = given.pop("audio", None)
    if audio is not None and not g4f_style:  # speech: {"voice": ..., "instructions": ...}
        given["model"] = given["model"] or _speech_model(providers)
        given["extra_body"] = {**dict(audio), **dict(given.get("extra_body") or {})}
    elif audio is not None:
        given["audio"] = audio  # handed on with the other keywords
    width, height = given.pop("width", None), given.pop("height", None)
    if (width or height) and not given.get("size"):  # g4f's width= / height=
        given["size"] = f"{width or height}x{height or width}"
    if given.get("response_format") is None:
        given.pop("response_format", None)
    elif g4f_style and given["response_format"] not in ("url", "b64_json"):
        # g4f takes any other value as its default; for polymux that is "url".
        given["response_format"] = "url"
    forward = _common(given, g4f_style, "generate")
    if forward:
        given["extra_body"] = {**forward, **dict(given.get("extra_body") or {})}
    return given


def _speech_model(providers: Sequence[Provider]) -> str:
    for provider in providers:
        model = getattr(provider, "default_speech_model", None)
        if model:
            return str(model)
    raise UnsupportedCapabilityError(
        "audio=... asks for speech, which none of the image providers makes; use OpenAI "
        '(image_provider=OpenaiChat, model="gpt-4o-mini-tts")'
    )


def web_search_body(providers: Sequence[Provider], given: Mapping[str, Any]) -> dict[str, Any]:
    """``web_search=True`` as each provider's own search: OpenAI's ``web_search_options``
    (its search models), Gemini's Google Search grounding, Anthropic's web search tool;
    Perplexity always searches. Anything else cannot search: a clear error."""
    kinds = {_search_kind(p) for p in providers}
    if len(kinds) != 1 or None in kinds:
        names = ", ".join(p.name for p in providers) or "the model registry's providers"
        raise UnsupportedCapabilityError(
            f"web_search=True needs a provider with native web search (openai with a search "
            f"model, anthropic, gemini, perplexity); {names} cannot search the web"
        )
    kind = kinds.pop()
    if kind != "perplexity" and given.get("tools"):
        raise UnsupportedCapabilityError(
            "web_search=True cannot be combined with tools=...; add the provider's search tool "
            "to tools yourself"
        )
    if kind == "openai":
        return {"web_search_options": {}}
    if kind == "gemini":
        return {"tools": [{"google_search": {}}]}
    if kind == "anthropic":
        return {"tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 5}]}
    return {}


def _search_kind(provider: Provider) -> str | None:
    from ..providers.anthropic import Anthropic
    from ..providers.gemini import Gemini
    from ..providers.openai import OpenAI

    if provider.name.lower() == "perplexity":
        return "perplexity"
    if isinstance(provider, Gemini):
        return "gemini"
    if isinstance(provider, Anthropic):
        return "anthropic"
    if type(provider) is OpenAI or type(provider).__name__ in ("OpenaiChat", "OpenaiAPI"):
        return "openai"
    return None


# -- g4f's extra methods on the client's namespaces ---------------------------------------------
class G4FCompletions:
    """``completions.stream(...)``: ``create(..., stream=True)``, as in g4f."""

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["stream"] = True
        return self.create(*args, **kwargs)  # type: ignore[attr-defined]


class G4FModels:
    """g4f's model listings, read from the configured providers without any network call:
    names of chat, vision, image and media models, and ``get(name)``, the provider serving a
    model."""

    _client: AsyncClient

    def _chat_providers(self) -> list[Provider]:
        return list(self._client._providers or ())

    def _image_providers(self) -> list[Provider]:
        return list(self._client._image_providers or ())

    def get_all(self) -> list[str]:
        chat = [m for p in self._chat_providers() for m in p.models]
        return list(dict.fromkeys([*chat, *self.get_image()]))

    def get_vision(self) -> list[str]:
        return list(
            dict.fromkeys(
                m for p in self._chat_providers() for m in p.models if p.capabilities_for(m).vision
            )
        )

    def get_image(self) -> list[str]:
        return list(dict.fromkeys(m for p in self._image_providers() for m in p.image_models))

    def get_media(self) -> list[str]:
        return self.get_image()  # polymux's media are images

    def get(self, name: str, default: Any = None) -> Any:
        """The first configured provider that lists ``name`` among its models, else
        ``default``."""
        for provider in [*self._chat_providers(), *self._image_providers()]:
            if name in provider.models or name in provider.image_models:
                return provider
        return default


class G4FSyncModels:
    """The same listings on the sync ``Client`` (they never touch the network)."""

    def _models(self) -> G4FModels:
        client: AsyncClient = self._client.async_client  # type: ignore[attr-defined]
        return client.models

    def get_all(self) -> list[str]:
        return self._models().get_all()

    def get_vision(self) -> list[str]:
        return self._models().get_vision()

    def get_image(self) -> list[str]:
        return self._models().get_image()

    def get_media(self) -> list[str]:
        return self._models().get_media()

    def get(self, name: str, default: Any = None) -> Any:
        return self._models().get(name, default)


class G4FImages:
    """Image editing: OpenAI's ``images.edit(image=, prompt=)`` and g4f's
    ``images.create_variation(image, ...)``. The image providers that edit images (OpenAI's
    edits endpoint with gpt-image-1 or dall-e-2, Gemini's image models, Pollinations' kontext
    with an image URL, g4f-style providers) get the images with the prompt."""

    _client: AsyncClient

    def edit(
        self, *, image: Any, prompt: str, model: str = "", **params: Any
    ) -> Awaitable[ImagesResponse]:
        images = list(image) if isinstance(image, list) else [image]
        return self._edit(images, prompt, model, params)

    def create_variation(
        self,
        image: Any,
        image_name: str | None = None,
        prompt: str = "Create a variation of this image",
        model: str | None = None,
        **params: Any,
    ) -> Awaitable[ImagesResponse]:
        return self._edit([(image, image_name)], prompt, model or "", params)

    def _edit(
        self, images: list[Any], prompt: str, model: str, params: dict[str, Any]
    ) -> Awaitable[ImagesResponse]:
        from .images import save_directory
        from .params import build_image_request
        from .vision import _as_items, image_url

        client = self._client
        params = image_arguments(client, (), {"prompt": prompt, "model": model, **params})
        prompt, model = params.pop("prompt"), params.pop("model")
        save_to = params.pop("save_to", None)
        spec = params.pop("provider", None)
        request = build_image_request(model, prompt, params, client.options)
        refs = tuple(ImageRef.parse(image_url(data, name)) for data, name in _as_items(images))
        request = replace(request, images=refs)
        directory = save_directory(save_to)
        providers = [p for p in client._image_providers_for(spec, request.model) if p.edits_images]
        if not providers:
            raise UnsupportedCapabilityError(
                "none of the image providers edits images; use OpenAI (gpt-image-1, dall-e-2), "
                "Gemini, Pollinations (kontext, with an image URL) or a g4f-style provider"
            )
        return client._generate(providers, request, directory)


class G4FSyncImages:
    """The same on the sync ``Client``."""

    def edit(self, **params: Any) -> ImagesResponse:
        return self._run(self._images().edit(**params))

    def create_variation(self, *args: Any, **params: Any) -> ImagesResponse:
        return self._run(self._images().create_variation(*args, **params))

    def _images(self) -> G4FImages:
        client: AsyncClient = self._client.async_client  # type: ignore[attr-defined]
        return client.images

    def _run(self, pending: Awaitable[ImagesResponse]) -> ImagesResponse:
        return self._client._runner.run(pending)  # type: ignore[attr-defined,no-any-return]
