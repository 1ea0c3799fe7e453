"""Built-in plugin: ftp's extra PII recognizers, registered like a third party's would be."""

from __future__ import annotations

from ftp import hookimpl


@hookimpl
def register_pii_detectors(register) -> None:
    from ftp.privacy import names, recognizers

    register("ftp_phone_shapes", recognizers.phone_recognizer(),
             description="phone numbers by shape (extensions, +1/001, unassigned area codes)")
    register("ftp_card_2_series", recognizers.card_recognizer(),
             description="Mastercard 2-series card numbers, Luhn-checked")
    register("ftp_person_cues", recognizers.person_cue_recognizer(),
             description="person names after a cue word (Dear, Name:, customer...)")
    register("ftp_person_context", names.context_recognizer(),
             description="person names introducing themselves or signing off "
                         "(My name is..., This is... writing, ... here, Thanks,\\nName)")
