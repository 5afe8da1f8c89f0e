"""The conversation as the model was trained to read it: its own chat template, and the picture's tokens.

The chat template is the model's own (``chat_template.jinja``, ``chat_template.json`` or ``tokenizer_config.json``),
rendered with jinja2 in a sandbox the way transformers renders it (trim_blocks, lstrip_blocks, ``raise_exception``,
a ``tojson`` that does not escape). SmolVLM's ``<image>`` placeholder is then expanded as `Idefics3Processor`
expands it: per tile ``<fake_token_around_image><row_r_col_c>`` and the tile's image tokens, a line break after
each row, then the global image between ``<fake_token_around_image><global-img>`` and a closing fake token.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.errors import ModelError

IMAGE = "<image>"
FAKE = "<fake_token_around_image>"
GLOBAL = "<global-img>"

Message = dict[str, Any]


def load_chat_template(folder: Path) -> str:
    """The model's chat template text, from the first of its files that has one."""
    folder = Path(folder)
    candidates: list[tuple[str, Any]] = [("chat_template.jinja", None), ("chat_template.json", "chat_template"),
                                         ("processor_config.json", "chat_template"),
                                         ("tokenizer_config.json", "chat_template")]
    for name, key in candidates:
        path = folder / name
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        if key is None:
            return text
        try:
            template = json.loads(text).get(key)
        except ValueError as error:
            raise ModelError(f"{name} in {folder.name} cannot be read ({error}).", "Export the model again.") from error
        if isinstance(template, str) and template:
            return template
    raise ModelError(f"The model {folder.name} has no chat template.", "Export or download the model again.")


class ChatTemplate:
    """Renders a list of messages (transformers' format: role and a list of typed content parts) to text."""

    def __init__(self, source: str, variables: dict[str, Any] | None = None) -> None:
        import jinja2
        import jinja2.ext
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        def raise_exception(message: str) -> None:
            raise jinja2.exceptions.TemplateError(message)

        def tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None, separators: Any = None,
                   sort_keys: bool = False) -> str:
            return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                              sort_keys=sort_keys)

        environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                                    extensions=[jinja2.ext.loopcontrols])
        environment.filters["tojson"] = tojson
        environment.globals["raise_exception"] = raise_exception
        self._template = environment.from_string(source)
        self._variables = dict(variables or {})

    def render(self, messages: Sequence[Message], *, add_generation_prompt: bool = True) -> str:
        """The conversation as text, ending with the assistant's cue when ``add_generation_prompt``."""
        import jinja2

        try:
            return self._template.render(messages=list(messages), add_generation_prompt=add_generation_prompt,
                                         **self._variables)
        except jinja2.TemplateError as error:
            raise ModelError(f"The model's chat template failed ({error}).", "Export the model again.") from error


def user_message(question: str, *, with_picture: bool) -> Message:
    """A user turn: the picture first (as SmolVLM's examples put it), then the question."""
    parts: list[dict[str, str]] = [{"type": "image"}] if with_picture else []
    return {"role": "user", "content": [*parts, {"type": "text", "text": question}]}


def assistant_message(answer: str) -> Message:
    """An assistant turn holding an earlier answer."""
    return {"role": "assistant", "content": [{"type": "text", "text": answer}]}


def smolvlm_image_prompt(rows: int, cols: int, image_seq_len: int) -> str:
    """The text that replaces one ``<image>`` for a picture cut into ``rows`` x ``cols`` tiles (0 x 0: global)."""
    tile = IMAGE * image_seq_len
    if rows == 0 and cols == 0:
        return f"{FAKE}{GLOBAL}{tile}{FAKE}"
    text = ""
    for row in range(rows):
        for col in range(cols):
            text += f"{FAKE}<row_{row + 1}_col_{col + 1}>{tile}"
        text += "\n"
    return text + f"\n{FAKE}{GLOBAL}{tile}{FAKE}"


def expand_images(text: str, image_prompt: str) -> str:
    """``text`` with every ``<image>`` placeholder replaced by ``image_prompt`` (one picture per conversation)."""
    return text.replace(IMAGE, image_prompt)
