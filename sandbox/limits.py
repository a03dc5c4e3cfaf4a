"""Discord's payload limits, which discord.py does not enforce client-side.

Each check returns ``(path, code, message)`` problems so a single 400 can list all of them, the
way Discord's Invalid Form Body does.
"""

from __future__ import annotations

from typing import Any

from .errors import EMPTY_MESSAGE, ApiError, form_error

Problem = tuple[str, str, str]

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
EMBED_FIELD_NAME_MAX = 256
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FOOTER_MAX = 2048
EMBED_AUTHOR_MAX = 256
EMBED_TOTAL_MAX = 6000
CUSTOM_ID_MAX = 100
SELECT_OPTIONS_MAX = 25
ACTION_ROWS_MAX = 5
ROW_ITEMS_MAX = 5
MODAL_TITLE_MAX = 45
MODAL_COMPONENTS_MAX = 5
AUTOCOMPLETE_CHOICES_MAX = 25
COMPONENTS_V2_FLAG = 1 << 15


def _max_len(path: str, value: Any, limit: int) -> list[Problem]:
    if isinstance(value, str | list) and len(value) > limit:
        return [(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")]
    return []


def check_embeds(embeds: list[dict[str, Any]], prefix: str = "") -> list[Problem]:
    problems = _max_len(f"{prefix}embeds", embeds, EMBEDS_MAX)
    total = 0
    for i, embed in enumerate(embeds):
        p = f"{prefix}embeds.{i}"
        title = embed.get("title") or ""
        description = embed.get("description") or ""
        fields = embed.get("fields") or []
        footer = (embed.get("footer") or {}).get("text") or ""
        author = (embed.get("author") or {}).get("name") or ""
        problems += _max_len(f"{p}.title", title, EMBED_TITLE_MAX)
        problems += _max_len(f"{p}.description", description, EMBED_DESCRIPTION_MAX)
        problems += _max_len(f"{p}.fields", fields, EMBED_FIELDS_MAX)
        problems += _max_len(f"{p}.footer.text", footer, EMBED_FOOTER_MAX)
        problems += _max_len(f"{p}.author.name", author, EMBED_AUTHOR_MAX)
        total += len(title) + len(description) + len(footer) + len(author)
        for j, field in enumerate(fields):
            name = str(field.get("name") or "")
            value = str(field.get("value") or "")
            problems += _max_len(f"{p}.fields.{j}.name", name, EMBED_FIELD_NAME_MAX)
            problems += _max_len(f"{p}.fields.{j}.value", value, EMBED_FIELD_VALUE_MAX)
            total += len(name) + len(value)
    if total > EMBED_TOTAL_MAX:
        problems.append(
            (f"{prefix}embeds", "BASE_TYPE_MAX_LENGTH", "Embed size exceeds maximum size of 6000")
        )
    return problems


def _check_component(comp: dict[str, Any], path: str) -> list[Problem]:
    problems: list[Problem] = []
    if "custom_id" in comp:
        problems += _max_len(f"{path}.custom_id", comp["custom_id"], CUSTOM_ID_MAX)
    if comp.get("type") == 3:
        problems += _max_len(f"{path}.options", comp.get("options") or [], SELECT_OPTIONS_MAX)
    for i, child in enumerate(comp.get("components") or []):
        problems += _check_component(child, f"{path}.components.{i}")
    if isinstance(comp.get("component"), dict):
        problems += _check_component(comp["component"], f"{path}.component")
    if isinstance(comp.get("accessory"), dict):
        problems += _check_component(comp["accessory"], f"{path}.accessory")
    return problems


def check_components(
    components: list[dict[str, Any]], prefix: str = "", *, v2: bool = False
) -> list[Problem]:
    problems: list[Problem] = []
    if not v2:
        problems += _max_len(f"{prefix}components", components, ACTION_ROWS_MAX)
        for i, row in enumerate(components):
            if row.get("type") == 1:
                problems += _max_len(
                    f"{prefix}components.{i}.components", row.get("components") or [], ROW_ITEMS_MAX
                )
    for i, comp in enumerate(components):
        problems += _check_component(comp, f"{prefix}components.{i}")
    return problems


POLL_ANSWERS_MAX = 10
POLL_DURATION_MAX_HOURS = 768
POLL_QUESTION_MAX = 300
POLL_ANSWER_TEXT_MAX = 55


def check_poll(poll: dict[str, Any], prefix: str = "") -> list[Problem]:
    p = f"{prefix}poll"
    problems = _max_len(
        f"{p}.question.text", (poll.get("question") or {}).get("text") or "", POLL_QUESTION_MAX
    )
    answers = poll.get("answers") or []
    problems += _max_len(f"{p}.answers", answers, POLL_ANSWERS_MAX)
    for i, answer in enumerate(answers):
        text = (answer.get("poll_media") or {}).get("text") or ""
        problems += _max_len(f"{p}.answers.{i}.poll_media.text", text, POLL_ANSWER_TEXT_MAX)
    duration = int(poll.get("duration") or 24)
    if not 1 <= duration <= POLL_DURATION_MAX_HOURS:
        problems.append(
            (
                f"{p}.duration",
                "NUMBER_TYPE_MAX",
                f"int value should be less than or equal to {POLL_DURATION_MAX_HOURS}.",
            )
        )
    return problems


def check_message(payload: dict[str, Any], *, n_files: int = 0, prefix: str = "") -> None:
    """Reject a message create/edit body the way Discord does; ``prefix`` is ``"data."``
    inside an interaction callback."""
    problems: list[Problem] = []
    content = payload.get("content")
    if content is not None:
        problems += _max_len(f"{prefix}content", str(content), CONTENT_MAX)
    problems += check_embeds(payload.get("embeds") or [], prefix)
    flags = int(payload.get("flags") or 0)
    problems += check_components(
        payload.get("components") or [], prefix, v2=bool(flags & COMPONENTS_V2_FLAG)
    )
    if payload.get("poll"):
        problems += check_poll(payload["poll"], prefix)
    if problems:
        raise form_error(problems)


def check_not_empty(payload: dict[str, Any], *, n_files: int = 0) -> None:
    """A new message needs content, embeds, files, components, stickers or a poll."""
    if n_files:
        return
    for key in ("content", "embeds", "components", "sticker_ids", "poll"):
        if payload.get(key):
            return
    raise ApiError(400, EMPTY_MESSAGE, "Cannot send an empty message")


def check_modal(data: dict[str, Any]) -> None:
    problems: list[Problem] = []
    problems += _max_len("data.title", data.get("title") or "", MODAL_TITLE_MAX)
    problems += _max_len("data.custom_id", data.get("custom_id") or "", CUSTOM_ID_MAX)
    components = data.get("components") or []
    problems += _max_len("data.components", components, MODAL_COMPONENTS_MAX)
    for i, comp in enumerate(components):
        problems += _check_component(comp, f"data.components.{i}")
    if problems:
        raise form_error(problems)


def check_autocomplete(data: dict[str, Any]) -> None:
    problems = _max_len("data.choices", data.get("choices") or [], AUTOCOMPLETE_CHOICES_MAX)
    if problems:
        raise form_error(problems)
