"""Messages: rendered texts turned into what is archived and sent, beside the PDF.

Takes rendered strings (HTML, text, subject, SMS text); gives bytes and facts about them.
`email.build_email` makes the RFC 5322 message (CSS inlined with css-inline, text
alternative, attachment, idempotency headers); `sms.analyse` chooses GSM-7 or UCS-2 and counts
segments; `translit.to_gsm7` romanises a text to GSM-7 by the rules of its language. Optional
dependencies (css-inline, gsm0338, unidecode: the ``delivery`` extra) are imported by the
modules that need them, not here.
"""
