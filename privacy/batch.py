"""Presidio's ``AnalyzerEngine.analyze``, step for step, over a batch of texts.

``AnalyzerEngine.analyze`` takes one text: it runs the NLP engine, every recognizer, the
context enhancer, the score threshold, duplicate removal and the allow-list. Here the same
steps run on a batch, in the same order and with Presidio's own functions, so the findings
and their scores are the same. What the batch changes:

* spaCy runs as two batched passes: NER on every text, then the lemma pipes only on the
  texts whose findings the context enhancer can change. The enhancer adds to the score of a
  finding of a recognizer with context words, capped at 1.0, and only if it was not boosted
  already; a text without such a finding scoring under 1.0 (or with only findings that
  duplicate removal drops whatever their score: see ``_shadowed``) leaves the enhancer
  with nothing to change, so it skips the lemma pipes and the enhancer (a deep copy of
  every finding);
* the recognizers for the requested entities are looked up once, not once per text.

Recognizers whose ``analyze`` may read tokens or lemmas (a plugin's, say) get the full NLP
artifacts up front, as Presidio gives them.
"""

from __future__ import annotations

import re
from typing import Any

from presidio_analyzer import EntityRecognizer, PatternRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import (
    IbanRecognizer,
    PhoneRecognizer,
    SpacyRecognizer,
)

ID_KEY = "recognizer_identifier"
NAME_KEY = "recognizer_name"
ENHANCED_KEY = "is_score_enhanced_by_context"
MAX_SCORE = 1.0
REGEX_FLAGS = re.DOTALL | re.MULTILINE | re.IGNORECASE  # Presidio's default


class BatchAnalyzer:
    """Findings per text for ``entities``, as ``analyzer.analyze`` would return them."""

    def __init__(self, analyzer: Any, entities: list[str], *, score_threshold: float,
                 allow_list: list[str] | None = None, batch_size: int = 256) -> None:
        assert (RecognizerResult.RECOGNIZER_IDENTIFIER_KEY, RecognizerResult.RECOGNIZER_NAME_KEY,
                RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY) == (ID_KEY, NAME_KEY,
                                                                       ENHANCED_KEY)
        self.analyzer, self.entities = analyzer, entities
        self.score_threshold, self.allow_list = score_threshold, allow_list or None
        self.batch_size = batch_size
        self.recognizers = analyzer.registry.get_recognizers(language="en", entities=entities)
        for recognizer in self.recognizers:
            if not recognizer.is_loaded:
                recognizer.load()
                recognizer.is_loaded = True
        self._context_ids = {r.id for r in self.recognizers if r.context}
        # A recognizer-level enhancer (an override) may change any finding: run it always.
        self._always_enhance = any(type(r).enhance_using_context
                                   is not EntityRecognizer.enhance_using_context
                                   for r in self.recognizers)
        engine = analyzer.nlp_engine
        self._two_pass = hasattr(engine, "ner_docs") and all(map(_reads_entities_only,
                                                                 self.recognizers))
        self._remove_duplicates = EntityRecognizer.remove_duplicates
        enhancer = analyzer.context_aware_enhancer
        self._boost = getattr(enhancer, "context_similarity_factor", None)
        self._floor = getattr(enhancer, "min_score_with_context_similarity", None)

    def analyze(self, texts: list[str], context: list[str] | None = None) -> list[list]:
        found: list[list] = [[] for _ in texts]
        todo = [i for i, text in enumerate(texts) if text and not text.isspace()]
        if not todo:
            return found
        batch = [texts[i] for i in todo]
        artifacts, docs = self._first_pass(batch)
        raw = [self._recognize(text, a) for text, a in zip(batch, artifacts, strict=True)]
        enhance = [k for k, results in enumerate(raw)
                   if self._always_enhance or self._may_change(results)]
        if docs is not None:  # the lemma pipes, only where the enhancer will read lemmas
            engine = self.analyzer.nlp_engine
            engine.add_lemmas([docs[k] for k in enhance], self.batch_size)
            for k in enhance:
                artifacts[k] = engine.artifacts(docs[k])
        for k in enhance:
            raw[k] = self.analyzer._enhance_using_context(batch[k], raw[k], artifacts[k],
                                                          self.recognizers, context)
        for k, i in enumerate(todo):
            found[i] = self._finish(batch[k], raw[k])
        return found

    def _first_pass(self, batch: list[str]) -> tuple[list, list | None]:
        engine = self.analyzer.nlp_engine
        if self._two_pass:
            docs = engine.ner_docs(batch, self.batch_size)
            return [engine.artifacts(doc, lemmas=False) for doc in docs], docs
        pairs = engine.process_batch(batch, language="en", batch_size=self.batch_size)
        return [a for _, a in pairs], None

    def _recognize(self, text: str, artifacts: Any) -> list:
        """Every recognizer's findings, with its id and name (``AnalyzerEngine.analyze``)."""
        results: list = []
        for recognizer in self.recognizers:
            current = recognizer.analyze(text=text, entities=self.entities,
                                         nlp_artifacts=artifacts)
            for result in current or ():
                if not result.recognition_metadata:
                    result.recognition_metadata = {}
                result.recognition_metadata.setdefault(ID_KEY, recognizer.id)
                result.recognition_metadata.setdefault(NAME_KEY, recognizer.name)
            results.extend(current or ())
        return results

    def _may_change(self, results: list) -> bool:
        """Whether the context enhancer can change what these findings come to (with or
        without outside ``context`` words: it only ever raises such a finding's score)."""
        return any(r.recognition_metadata[ID_KEY] in self._context_ids
                   and not r.recognition_metadata.get(ENHANCED_KEY) and r.score != MAX_SCORE
                   and not self._shadowed(r, results) for r in results)

    def _shadowed(self, result: Any, results: list) -> bool:
        """True when ``result`` is dropped as a duplicate whatever the enhancer does: a
        finding of its type scoring 1.0 (which no enhancer changes) spans it, and even
        boosted it stays under 1.0, so ``remove_duplicates`` sorts it after that finding
        and removes it (e.g. Presidio's 0.4 phone match inside a validated phone shape)."""
        boost, floor = self._boost, self._floor
        if boost is None or floor is None or max(result.score + boost, floor) >= MAX_SCORE:
            return False
        return any(other.entity_type == result.entity_type and other.score == MAX_SCORE
                   and other.start <= result.start and result.end <= other.end
                   for other in results)

    def _finish(self, text: str, results: list) -> list:
        """Threshold, duplicates, allow-list, no decision process: Presidio's last steps."""
        results = [r for r in results if r.score >= self.score_threshold]
        results = self._remove_duplicates(results)
        if self.allow_list:
            results = self.analyzer._remove_allow_list(results, self.allow_list, text,
                                                       REGEX_FLAGS, "exact")
        for result in results:
            result.analysis_explanation = None
        return results


def _reads_entities_only(recognizer: Any) -> bool:
    """True for recognizers whose ``analyze`` reads no tokens or lemmas: Presidio's pattern,
    IBAN, phone and spaCy recognizers, and those marked ``ftp_reads_entities_only``."""
    known = (PatternRecognizer.analyze, IbanRecognizer.analyze, PhoneRecognizer.analyze,
             SpacyRecognizer.analyze)
    return type(recognizer).analyze in known or getattr(recognizer, "ftp_reads_entities_only",
                                                        False)
