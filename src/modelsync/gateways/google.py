"""Google's Gemini API list: ``GET /v1beta/models``.

Request: ``GET {base_url}?pageSize=1000`` (``options["params"]`` adds or overrides), the key in
the ``x-goog-api-key`` header. Pagination: a non-empty ``nextPageToken`` is sent back as
``pageToken``; a token that repeats is a looping cursor (PayloadError).

Fields: the model id is ``name`` minus ``models/`` (``name`` itself stays in ``extra``);
``displayName``, ``description``; ``inputTokenLimit`` is the context length and
``outputTokenLimit`` the output limit. There are no prices. The API has no deprecation field: a
description saying the model "was/is/has been/will be deprecated [on <date>]", or a sentence
opening with "Deprecated [on <date>]", makes it ``deprecated``, with the date (``July 12, 2024``,
``Sept. 24, 2025`` or ``2024-07-12``) as ISO. The sampling fields a
model lists become supported parameters (``temperature``, ``topP`` -> ``top_p``, ``topK`` ->
``top_k``, ``thinking: true`` -> ``reasoning``); ``supportedGenerationMethods`` stays in ``extra``
and decides the modalities (:func:`google_modalities`).

Identity (:mod:`modelsync.identity`): ``google/<id>`` (``models/gemini-2.0-flash`` ->
``google/gemini-2.0-flash``); the ``provider_slug`` is ``google``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from functools import lru_cache
from typing import Any

from modelsync.domain import Model, ModelStatus
from modelsync.errors import PayloadError
from modelsync.gateways.base import (
    GatewayAdapter,
    GatewayConfig,
    Page,
    PageRequest,
    RawEntry,
    Unreadable,
    expect_dict,
    listed_entries,
    optional_text,
    positive_int,
    string_tuple,
    type_name,
)
from modelsync.gateways.openrouter import remaining

NAME_PREFIX = "models/"

_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")  # fmt: skip
_DEPRECATED = re.compile(
    r"(?:\b(?:was|is|has\s+been|will\s+be)\s+|^\s*|[.!?]\s+)deprecated\b"
    r"(?:\s+(?:on|as\s+of|since)\s+(?:(?P<month>[A-Za-z]+)\.?\s+(?P<day>\d{1,2}),?\s+"
    r"(?P<year>\d{4})|(?P<iso>\d{4}-\d{2}-\d{2})))?",
    re.IGNORECASE,
)


@lru_cache(maxsize=1024)
def deprecation(description: str) -> tuple[bool, str | None]:
    """``(deprecated, ISO date or None)`` read from a model description."""
    match = _DEPRECATED.search(description)
    if match is None:
        return False, None
    if match["iso"]:
        return True, match["iso"]
    month = month_number(match["month"] or "")
    try:
        return True, date(
            int(match["year"]), month, int(match["day"])
        ).isoformat() if month else None
    except ValueError:  # "February 30": deprecated, on no date we can name
        return True, None


def month_number(word: str) -> int | None:
    """1-12 for a month name or its abbreviation of three letters or more (``Sept``)."""
    word = word.lower()
    if len(word) < 3:
        return None
    return next((n for n, name in enumerate(_MONTHS, 1) if name.startswith(word)), None)


_GENERATE = frozenset(
    {"generateContent", "generateText", "generateMessage", "generateAnswer", "bidiGenerateContent"}
)
_EMBED = frozenset({"embedContent", "embedText", "batchEmbedContents", "asyncBatchEmbedContent"})
_MULTIMODAL_INPUT = ("audio", "image", "text", "video")


@lru_cache(maxsize=1024)
def google_modalities(
    model_id: str, methods: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Input and output modalities from the generation methods and the model family.

    Embedding methods output ``embeddings``; generating methods ``text`` (``audio`` for ``-tts``
    models, plus ``image`` for image-generation models); ``predict`` on Imagen outputs ``image``
    and ``predictLongRunning`` on Veo ``video``. Gemini models from 1.5 on read text, images,
    audio and video; ``-vision`` models text and images; everything else text.
    """
    name = model_id.lower()
    outputs: set[str] = set()
    if _EMBED.intersection(methods):
        outputs.add("embeddings")
    if _GENERATE.intersection(methods):
        outputs.add("audio" if "tts" in name else "text")
        if "image" in name and "embedding" not in name:
            outputs.add("image")
    if "predict" in methods and name.startswith("imagen"):
        outputs.add("image")
    if "predictLongRunning" in methods and name.startswith("veo"):
        outputs.add("video")
    if not outputs:
        return (), ()
    if "embeddings" in outputs or not name.startswith("gemini-"):
        inputs: tuple[str, ...] = ("image", "text") if "vision" in name else ("text",)
    elif name.startswith(("gemini-1.0", "gemini-pro")):
        inputs = ("image", "text") if "vision" in name else ("text",)
    else:
        inputs = _MULTIMODAL_INPUT
    return inputs, tuple(sorted(outputs))


_SAMPLING: Mapping[str, str] = {"temperature": "temperature", "topP": "top_p", "topK": "top_k"}


def sampling_parameters(raw: Mapping[str, Any]) -> tuple[str, ...]:
    """The parameters a model lists defaults for, in the OpenRouter vocabulary."""
    names = {name for key, name in _SAMPLING.items() if raw.get(key) is not None}
    if raw.get("thinking") is True:
        names.add("reasoning")
    return tuple(sorted(names))


_USED = frozenset({"displayName", "description", "inputTokenLimit", "outputTokenLimit"})


class GoogleAdapter(GatewayAdapter):
    """``GET /v1beta/models`` of the Gemini API (rules in the module docstring)."""

    kind = "google"
    dialect = "google"
    default_params: Mapping[str, str] = {"pageSize": "1000"}

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        """The key goes in ``x-goog-api-key``."""
        return {"x-goog-api-key": api_key} if api_key else {}

    def next_request(
        self, config: GatewayConfig, previous: PageRequest, page: Page
    ) -> PageRequest | None:
        """The same request with ``pageToken`` set, while a ``nextPageToken`` comes back."""
        document = page.document
        token = document.get("nextPageToken") if type(document) is dict else None
        if token is None or token == "":
            return None
        if type(token) is not str:
            raise PayloadError(f"{self.gateway}: nextPageToken must be a string, got {token!r}")
        if token == previous.params.get("pageToken"):
            raise PayloadError(f"{self.gateway}: nextPageToken {token!r} repeats: the cursor loops")
        return previous.following(params={**previous.params, "pageToken": token})

    def entries(self, pages: Sequence[Page]) -> Iterator[RawEntry]:
        """Each object of every page's ``models`` (a page holding only a token may omit it)."""
        for number, page in enumerate(pages, 1):
            where = f"{self.gateway} page {number}"
            document = expect_dict(page.document, where)
            models = document.get("models")
            if models is None and document.keys() <= {"nextPageToken"}:
                continue
            if type(models) is not list:
                raise PayloadError(f"{where}: models must be a list, got {type_name(models)}")
            for name, raw in listed_entries(models, where, id_key="name"):
                if type(raw) is Unreadable:
                    yield name, raw
                    continue
                if not name.startswith(NAME_PREFIX) or len(name) == len(NAME_PREFIX):
                    raise PayloadError(f"{where}: model name {name!r} is not 'models/<id>'")
                yield name[len(NAME_PREFIX) :], raw

    def build(self, gateway_model_id: str, raw: dict[str, Any]) -> Model:
        description = optional_text(raw.get("description"), "description")
        deprecated, deprecated_on = deprecation(description) if description else (False, None)
        methods = string_tuple(raw.get("supportedGenerationMethods"), "supportedGenerationMethods")
        inputs, outputs = google_modalities(gateway_model_id, methods)
        identity = self.identify(gateway_model_id, raw)
        return Model(
            gateway=self.gateway,
            gateway_model_id=gateway_model_id,
            id=identity.id,
            name=optional_text(raw.get("displayName"), "displayName"),
            description=description,
            provider_slug=identity.author,
            context_length=positive_int(raw.get("inputTokenLimit"), "inputTokenLimit"),
            max_output_tokens=positive_int(raw.get("outputTokenLimit"), "outputTokenLimit"),
            input_modalities=inputs,
            output_modalities=outputs,
            supported_parameters=sampling_parameters(raw),
            status=ModelStatus.DEPRECATED if deprecated else ModelStatus.ACTIVE,
            deprecation_date=deprecated_on,
            variants=identity.variants,
            extra=remaining(raw, _USED),
        )
