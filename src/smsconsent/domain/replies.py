"""The replies the rules require: STOP and START confirmations, HELP, the first-message footer.

Default wording follows seeds 001 and 003; a confirmation holds no marketing (FCC). A HELP text
must carry the business name, a contact line, "Msg&Data rates may apply" and how to opt out
(seed 004, CTIA), so a workspace cannot configure one that does not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from smsconsent.domain.free_text import check_text
from smsconsent.errors import BadInput

KINDS = ("stop", "start", "help")

DEFAULTS: dict[str, dict[str, str]] = {
    "stop": {
        "en": "You have been unsubscribed and will no longer receive SMS messages from "
        "{business}. Reply START to resubscribe.",
        "es": "Se ha dado de baja y ya no recibirá mensajes SMS de {business}. "
        "Responda START para volver a suscribirse.",
        "fr": "Vous êtes désabonné et ne recevrez plus de SMS de {business}. "
        "Répondez START pour vous réabonner.",
        "pt": "Você foi descadastrado e não receberá mais mensagens SMS de {business}. "
        "Responda START para voltar a receber.",
    },
    "start": {
        "en": "You have been resubscribed to SMS messages from {business}. "
        "Reply STOP to unsubscribe. Msg&Data Rates May Apply.",
        "es": "Se ha vuelto a suscribir a los mensajes SMS de {business}. "
        "Responda STOP para darse de baja. Pueden aplicarse tarifas de mensajes y datos.",
        "fr": "Vous êtes réabonné aux SMS de {business}. Répondez STOP pour vous désabonner. "
        "Des frais de messagerie et de données peuvent s'appliquer.",
        "pt": "Você voltou a receber mensagens SMS de {business}. Responda STOP para sair. "
        "Podem ser cobradas tarifas de mensagens e dados.",
    },
    "help": {
        "en": "{business}: for help, contact {contact}. Msg&Data rates may apply. "
        "Reply STOP to opt out.",
        "es": "{business}: para ayuda, contacte a {contact}. Pueden aplicarse tarifas de "
        "mensajes y datos. Responda STOP para darse de baja.",
        "fr": "{business} : pour de l'aide, contactez {contact}. Des frais de messagerie et de "
        "données peuvent s'appliquer. Répondez ARRET pour vous désabonner.",
        "pt": "{business}: para ajuda, fale com {contact}. Podem ser cobradas tarifas de "
        "mensagens e dados. Responda SAIR para sair.",
    },
}

FOOTER = "Reply STOP to opt out."
MAX_TEMPLATE = 640

_RATES = re.compile(r"msg\s*(&|and)\s*data\s+rates?\s+may\s+apply|message\s+(&|and)\s+data\s+"
                    r"rates?\s+may\s+apply", re.IGNORECASE)
_OPT_OUT_HOW = re.compile(r"\b(reply|text|send|txt)\b[^.]{0,20}\b(stop|arret|sair|baja)\b",
                          re.IGNORECASE)
_CONTACT = re.compile(r"(\+?\d[\d\s().-]{6,}\d)|([\w.+-]+@[\w-]+\.[\w.-]+)|(https?://\S+)|"
                      r"(\b[\w-]+\.(com|org|net|io|co|us|ca)\b)", re.IGNORECASE)
_MARKETING = re.compile(r"\b(sale|offer|discount|deal|promo|coupon|% off)\b", re.IGNORECASE)
_HAS_OPT_OUT = re.compile(r"\b(reply|text|send|txt)\b[^.]{0,20}\bstop\b", re.IGNORECASE)


@dataclass(frozen=True)
class Templates:
    """A workspace's own wording per kind and language; missing ones fall back to DEFAULTS."""

    custom: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def render(self, kind: str, language: str | None, business: str, contact: str) -> str:
        lang = language or "en"
        own = self.custom.get(kind, {})
        text = own.get(lang) or DEFAULTS[kind].get(lang) or own.get("en") or DEFAULTS[kind]["en"]
        return _fill(text, business, contact)

    def with_text(self, kind: str, text: str, language: str = "en") -> Templates:
        if kind not in KINDS:
            raise BadInput(f"unknown template {kind!r}; one of {', '.join(KINDS)}")
        merged = {k: dict(v) for k, v in self.custom.items()}
        merged.setdefault(kind, {})[language] = text
        return Templates(merged)

    def to_dict(self) -> dict[str, Any]:
        return {k: dict(v) for k, v in self.custom.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Templates:
        for kind, texts in data.items():
            if kind not in KINDS or not isinstance(texts, Mapping):
                raise BadInput(f"unknown template {kind!r}; one of {', '.join(KINDS)}")
        return cls({k: dict(v) for k, v in data.items()})


def _fill(text: str, business: str, contact: str) -> str:
    return text.replace("{business}", business).replace("{contact}", contact)


def validate_template(kind: str, text: str, business: str, contact: str) -> None:
    """Refuse a template the rules would not accept, saying what is missing."""
    if not isinstance(text, str) or not text.strip():
        raise BadInput(f"the {kind} text is empty")
    if len(text) > MAX_TEMPLATE:
        raise BadInput(f"the {kind} text is {len(text)} characters; at most {MAX_TEMPLATE}")
    check_text(text, f"the {kind} text", MAX_TEMPLATE)  # NUL, a lone surrogate: not storable
    rendered = _fill(text, business, contact)
    if kind == "help":
        missing = []
        if business.casefold() not in rendered.casefold():
            missing.append(f"the business name ({business!r})")
        if contact.casefold() not in rendered.casefold() and not _CONTACT.search(rendered):
            missing.append("a contact line (phone number, email or web address)")
        if not _RATES.search(rendered):
            missing.append('"Msg&Data rates may apply"')
        if not _OPT_OUT_HOW.search(rendered):
            missing.append('how to opt out (e.g. "Reply STOP to opt out")')
        if missing:
            raise BadInput("the HELP text must include " + ", ".join(missing),
                           code="invalid_help_text")
    elif kind == "stop" and _MARKETING.search(rendered):
        raise BadInput("the STOP confirmation may hold no marketing (FCC)",
                       code="invalid_stop_text")


def with_footer(body: str) -> tuple[str, bool]:
    """Append the opt-out instruction (seed 001) unless the body already gives it."""
    if _HAS_OPT_OUT.search(body):
        return body, False
    text = body.rstrip()
    sep = " " if text.endswith((".", "!", "?")) else ". "
    return f"{text}{sep}{FOOTER}", True
