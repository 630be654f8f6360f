"""The channels of a record: pdf, print, email, sms, peppol, webhook; one module each.

`factory.pipeline.channels.base` holds the `Channel` protocol and the registry; this package's
top level is light (no channel module is imported until a job names it).
"""

from factory.pipeline.channels.base import (
    Channel,
    RecordContext,
    Services,
    channel_class,
    channel_names,
    default_transports,
    done_keys,
    register_channel,
)

__all__ = ["Channel", "RecordContext", "Services", "channel_class", "channel_names",
           "default_transports", "done_keys", "register_channel"]
