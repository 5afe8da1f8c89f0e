"""Ask about a picture: a decoder-only vision-language model (SmolVLM / Idefics3) on onnxruntime.

One loop for the transformers.js layout (``vision_encoder``, ``embed_tokens``, ``decoder_model_merged``):
`engine.vlm.model` loads the graphs and runs one decoder step, `engine.vlm.conversation` asks questions with
follow-ups that reuse the key/value cache, `engine.vlm.spoken` speaks the answer sentence by sentence as it is
written. `engine.vlm.export` (export tooling, torch) writes that layout from a transformers model.

    model = load_vlm("smolvlm-256m-instruct", settings)
    conversation = start_conversation(model, frame.image)
    print(conversation.ask("What does the error message say?").answer)
"""

from engine.vlm.conversation import Conversation, Turn, start_conversation
from engine.vlm.model import VisionLanguageModel, load_vlm

__all__ = ["Conversation", "Turn", "VisionLanguageModel", "load_vlm", "start_conversation"]
