"""Messages refused after all: a permanent refusal at send time, a DSN that came back, an SMS
gateway's "undeliverable" report; and the fallback each record made once.

Gives the states; `DeliveryRepository` (``index.deliveries``: ``mark_bounced``,
``mark_fell_back``, ``note_cause``, ``bounced``, ``sent_to``) makes the updates of the
``deliveries`` row: ``bounced`` (refused, the record's fallback not made yet)
and then ``fell_back`` (the next usable channel of its route took the message), each with the
cause in ``reason``. A row moves to ``bounced`` only from ``sent`` or ``failed``, and to
``fell_back`` only from ``bounced``, so a report received twice changes nothing the second time.
No new table: the states are values of ``deliveries.status`` (a String(16)).
"""

from __future__ import annotations

BOUNCED = "bounced"
FELL_BACK = "fell_back"
#: The states of a message whose record must go (or went) through its fallback channel.
REFUSED = (BOUNCED, FELL_BACK)
