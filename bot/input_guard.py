"""An NLU step after the classifiers for input the intent model cannot judge (issue 12).

DIET gives *some* intent to anything, confidently: "!!!" came out as ``inform`` (1.00), "asdfgh"
as ``affirm``, an English sentence as ``greet``. Outside a form no rule answers those, the bot
said nothing and the gateway told the customer the system was busy. This step decides by the
characters instead of the model:

- text with no letter, digit or Chinese character (only punctuation, symbols, emoji, invisible
  characters or markup such as ``<script>``) → ``nlu_fallback``: the bot says it did not understand
  and what it can do (actions/knowledge.py); inside a form, a failed answer (actions/forms.py);
- text without Chinese but in another script or with real Latin-script words ("my power is out",
  "hello", Japanese kana, Korean, Cyrillic) → ``other_language``: a short Chinese + English note
  that service is in Chinese and how to reach 95598.

Numbers, ticket numbers (GD20261123-0042), and the short Latin words Chinese customers type
("ok", "hi", "app") are left to the model. Runs in the bot's own virtualenv; the action server's
``actions.common.readable`` applies the same "says nothing" rule to the text it receives.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

UNREADABLE_INTENT = "nlu_fallback"
OTHER_LANGUAGE_INTENT = "other_language"

_TAG = re.compile(r"<[^>]{0,200}>")
_MEANINGFUL = re.compile(r"[^\W_]")
_CHINESE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA_HANGUL = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uac00-\ud7af\u1100-\u11ff]")
_OTHER_SCRIPT = re.compile(r"[\u0370-\u03ff\u0400-\u04ff\u0590-\u05ff\u0600-\u06ff\u0e00-\u0e7f]")
_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]{2,}")
# Latin words Chinese customers use on their own: not a sign of another language.
CHINESE_USE = frozenset({
    "ok", "okay", "hi", "hey", "app", "wifi", "vip", "sms", "id", "pdf", "gd", "kw", "kwh", "kva",
    "tv", "cpu", "bug", "bye", "yes", "no", "qq", "nfc", "ic", "usb", "led",
})


def classify(text: Optional[str]) -> Optional[str]:
    """'unreadable', 'other_language', or None when the intent model should decide."""
    visible = "".join(ch for ch in str(text or "") if unicodedata.category(ch) not in ("Cf", "Cc"))
    visible = _TAG.sub("", unicodedata.normalize("NFKC", visible))
    if not _MEANINGFUL.search(visible):
        return "unreadable"
    if _KANA_HANGUL.search(visible) or (_OTHER_SCRIPT.search(visible) and not _CHINESE.search(visible)):
        return "other_language"
    if _CHINESE.search(visible):
        return None
    words = [w.lower() for w in _WORD.findall(visible)]
    foreign = [w for w in words if w not in CHINESE_USE]
    if (len(words) >= 2 and foreign) or any(len(w) >= 4 for w in foreign):
        return "other_language"
    return None


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class InputGuard(GraphComponent):
    """Overrides the intent of unreadable and non-Chinese input (see the module docstring)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {}

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "InputGuard":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            kind = classify(message.get(TEXT))
            if kind is None:
                continue
            name = UNREADABLE_INTENT if kind == "unreadable" else OTHER_LANGUAGE_INTENT
            intent = {"name": name, "confidence": 1.0}
            ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != name]
            message.data[INTENT] = intent
            message.data[INTENT_RANKING_KEY] = [intent, *ranking]
        return messages
