"""drivers: what every driver shares — the strict ``scheme:path?options`` URL.

Frame sources (scanner) and relays, lamps and sensors (hardware) are all chosen by such
a URL in the configuration; one parser means one set of rules and one set of error
messages for the technician. It imports only ``errors``.
"""

from .url import DriverURL, OptionReader, parse_driver_url

__all__ = ["DriverURL", "OptionReader", "parse_driver_url"]
