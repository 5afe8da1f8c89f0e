"""Florence-2's tasks: the task tokens, the prompts its processor builds from them, and SpaceVoice's names.

The prompt strings are those of transformers' ``Florence2Processor`` (and transformers.js' ``construct_prompts``):
the model was trained on these sentences, not on the task tokens themselves.
"""

from __future__ import annotations

from engine.errors import InputError

PROMPTS: dict[str, str] = {
    "<OCR>": "What is the text in the image?",
    "<OCR_WITH_REGION>": "What is the text in the image, with regions?",
    "<CAPTION>": "What does the image describe?",
    "<DETAILED_CAPTION>": "Describe in detail what is shown in the image.",
    "<MORE_DETAILED_CAPTION>": "Describe with a paragraph what is shown in the image.",
    "<OD>": "Locate the objects with category name in the image.",
    "<DENSE_REGION_CAPTION>": "Locate the objects in the image, with their descriptions.",
    "<REGION_PROPOSAL>": "Locate the region proposals in the image.",
}

# How each task's answer is read (Florence2Processor.tasks_answer_post_processing_type).
ANSWER_KINDS: dict[str, str] = {
    "<OCR>": "pure_text",
    "<OCR_WITH_REGION>": "ocr",
    "<CAPTION>": "pure_text",
    "<DETAILED_CAPTION>": "pure_text",
    "<MORE_DETAILED_CAPTION>": "pure_text",
    "<OD>": "description_with_bboxes",
    "<DENSE_REGION_CAPTION>": "description_with_bboxes",
    "<REGION_PROPOSAL>": "bboxes",
}

# The names a person gives on the command line (`main.py describe --task NAME`).
USER_TASKS: dict[str, str] = {
    "more-detailed": "<MORE_DETAILED_CAPTION>",
    "detailed": "<DETAILED_CAPTION>",
    "caption": "<CAPTION>",
    "objects": "<OD>",
    "regions": "<DENSE_REGION_CAPTION>",
    "text": "<OCR_WITH_REGION>",
}


def task_token(name: str) -> str:
    """The task token for ``name`` (a user name such as ``detailed`` or a token such as ``<OD>``)."""
    token = USER_TASKS.get(name, name)
    if token not in PROMPTS:
        raise InputError(f"Florence-2 has no task called {name!r}.",
                         f"Choose one of: {', '.join(USER_TASKS)}.")
    return token


def prompt_text(task: str, *, bos: str = "<s>", eos: str = "</s>") -> str:
    """The text the processor tokenizes (without the image tokens that precede it): ``<s>`` prompt ``</s>``."""
    return f"{bos}{PROMPTS[task_token(task)]}{eos}"
