"""Multi-turn questions: an in-memory conversation store bounded by count and age, and
follow-up resolution, which carries the salient words of the previous turn into the
question that retrieval and answering see ("how much was it in 2022?" after a question
on China-Russia trade becomes "how much was it in 2022? (China-Russia trade reach)").

Conversations are per process and do not survive a restart. The service issues their ids
(96 random bits); an unknown id starts a new conversation under a new id."""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import msgspec

from index.lexical import terms

# Content words that frame a question rather than name its topic (stop words are dropped
# anyway by `terms`); never carried over.
_FRAME_WORDS = frozenset({"much", "many", "say", "said", "says", "tell", "told", "know", "please", "also", "plus"})
_PRONOUN = re.compile(r"\b(it|they|them|he|him|she|this|these|those)\b", re.IGNORECASE)
# Possessives usually point back to a name in the same question ("Putin ... his trip").
_POSSESSIVE = re.compile(r"\b(its|their|his|her|hers)\b", re.IGNORECASE)
_CONNECTIVE = re.compile(r"^\s*(and|but|also|so|then|plus|what about|how about)\b", re.IGNORECASE)
_WORD = re.compile(r"[\w$€£%][\w’'.,$%-]*[\w%]|[\w$]")
_NUMBER = re.compile(r"^[$€£]?\d[\d.,]*%?$")
SHORT_QUESTION_TERMS = 3  # a question with this few content words leans on the context
MAX_CARRIED_WORDS = 8  # enough to name a topic without drowning the follow-up's own words


class Turn(msgspec.Struct, frozen=True):
    resolved: str  # the question as answered (a follow-up already carries its context)
    answer_span: str | None  # the short answer of the first citation, when there is one


class _Conversation(msgspec.Struct):
    last: Turn
    touched: float
    client: str  # the address that asked last


def _words(text: str) -> list[str]:
    return [w.rstrip(".,") for w in _WORD.findall(text)]


def _is_topic_word(word: str) -> bool:
    return word.lower() not in _FRAME_WORDS and bool(terms(word))


def _phrases(text: str) -> list[tuple[str, bool]]:
    """Topic words, with runs of capitalised ones (other than the opening word) joined into
    entities: ("Xi Jinping", True), ("trade", False)."""
    out: list[tuple[str, bool]] = []
    joinable = False
    for position, word in enumerate(_words(text)):
        if not _is_topic_word(word):
            joinable = False
            continue
        entity = position > 0 and word[:1].isupper()
        if entity and joinable:
            out[-1] = (f"{out[-1][0]} {word}", True)
        else:
            out.append((word, entity))
        joinable = entity
    return out


def entities(text: str) -> list[str]:
    return [phrase for phrase, entity in _phrases(text) if entity]


def is_follow_up(question: str) -> bool:
    """Leans on the previous turn: opens with "and"/"what about", uses a pronoun, or is
    very short without naming anything of its own."""
    if _CONNECTIVE.search(question) or _PRONOUN.search(question):
        return True
    if (possessive := _POSSESSIVE.search(question)) and not entities(question[: possessive.start()]):
        return True
    return len(terms(question)) <= SHORT_QUESTION_TERMS and not entities(question)


def carried_words(previous: Turn, question: str) -> list[str]:
    """The previous turn's topic that the follow-up does not already say: its short answer,
    then its entities, then its other content words.

    A follow-up that names its own entity displaces the previous subject (the first entity:
    "what did Xi say..." then "and Putin?"), and one with its own number displaces the
    previous numbers (2023 then "in 2022?"), so the new words are not outvoted by old ones."""
    displaces_subject = bool(entities(question))
    displaces_numbers = any(_NUMBER.match(w) for w in _words(question))
    phrases = _phrases(previous.resolved)
    named = [phrase for phrase, entity in phrases if entity]
    ranked = [previous.answer_span] if previous.answer_span else []
    ranked += named + [phrase for phrase, entity in phrases if not entity]
    out: list[str] = []
    said = set(terms(question))  # stems already in the follow-up or carried
    words = 0
    for phrase in ranked:
        stems = set(terms(phrase))
        if stems <= said:
            continue
        if (displaces_subject and phrase == named[0]) or (displaces_numbers and _NUMBER.match(phrase.split()[0])):
            continue
        words += len(phrase.split())
        if words > MAX_CARRIED_WORDS:
            break
        out.append(phrase)
        said |= stems
    return out


def resolve(question: str, previous: Turn | None) -> str:
    """The question to retrieve and answer with: a follow-up gets the previous topic appended."""
    if previous is None or not is_follow_up(question):
        return question
    carried = carried_words(previous, question)
    return f"{question.strip()} ({' '.join(carried)})" if carried else question


class Conversations:
    """The last turn of each recent conversation, least recently used evicted first: at most
    `limit` in all and `per_client` (all of them unless given) per client address, so that
    one client's flood of questions evicts its own oldest conversations, not everyone's."""

    def __init__(self, limit: int, ttl_seconds: float, clock: Callable[[], float] = time.monotonic,
                 per_client: int | None = None) -> None:
        self.limit = max(limit, 1)
        self.per_client = max(per_client or self.limit, 1)
        self.ttl = ttl_seconds
        self._clock = clock
        self._items: OrderedDict[str, _Conversation] = OrderedDict()
        self._by_client: dict[str, OrderedDict[str, None]] = {}  # each client's conversations, oldest first
        self._lock = threading.Lock()  # handlers run in worker threads

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._items)

    def _drop(self, conversation_id: str) -> None:
        client = self._items.pop(conversation_id).client
        owned = self._by_client[client]
        del owned[conversation_id]
        if not owned:
            del self._by_client[client]

    def _expire(self) -> None:
        cutoff = self._clock() - self.ttl
        while self._items and next(iter(self._items.values())).touched < cutoff:
            self._drop(next(iter(self._items)))

    def last_turn(self, conversation_id: str) -> Turn | None:
        with self._lock:
            self._expire()
            item = self._items.get(conversation_id)
            return item.last if item else None

    def remember(self, conversation_id: str, turn: Turn, client: str) -> None:
        """Keep `turn` as the conversation's last, asked from the address `client`."""
        with self._lock:
            if conversation_id in self._items:
                self._drop(conversation_id)
            self._items[conversation_id] = _Conversation(turn, self._clock(), client)
            owned = self._by_client.setdefault(client, OrderedDict())
            owned[conversation_id] = None
            self._expire()
            while len(owned) > self.per_client:
                self._drop(next(iter(owned)))
            while len(self._items) > self.limit:
                self._drop(next(iter(self._items)))

    @staticmethod
    def new_id() -> str:
        return secrets.token_urlsafe(12)
