"""drivers: what every driver shares — the URL, its options, the registry, the lifecycle.

Frame sources (scanner), relays, lamps, buzzers and passage sensors (hardware), and QR
decoders (scanner, chosen by name) are all chosen in the configuration; one framework
means one set of rules and one set of error messages for the technician:

- :mod:`drivers.url`: the strict ``scheme:path?options`` URL (:class:`DriverURL`) and
  the one option API (:class:`Options`: typed getters, then ``done()``).
- :mod:`drivers.registry`: ``scheme -> Backend(module, class, needs)`` per kind of
  driver; ``check`` validates a URL without opening or importing anything heavy,
  ``open`` opens it, and a missing library is reported with what to install.
- :mod:`drivers.device`: the lifecycle base (:class:`Device`): ``settings`` from a URL,
  open, ``close()`` safe twice, context manager, ``DeviceClosed`` after close.

It imports only ``errors``; ``import drivers`` loads no device library.

Adding a driver (a new URL scheme)
----------------------------------
1. Write one module for it next to its kind (``hardware/`` for outputs and sensors,
   ``scanner/sources/`` for frame sources). Its header states the URL form and every
   option with its range and default. At the module's top import nothing heavy; import
   the device library (cv2, serial, RPi.GPIO, ...) in the constructor.
2. Subclass the kind's base (``hardware.Output``, ``hardware.PassageSensor``,
   ``scanner.BaseSource``; all are :class:`Device`). Implement the classmethod
   ``settings(url)``: read the path and each option through ``Options(url)`` and call
   ``done()`` last, returning the constructor's keyword arguments. It must open nothing.
3. Register it in the kind's table: ``hardware/registry.py`` (``OUTPUTS``, ``SENSORS``)
   or ``scanner/sources/__init__.py`` (``SOURCES``), with ``needs`` naming the package
   to install. ``gate config check`` then validates it, and ``output_for_url`` /
   ``sensor_for_url`` / ``source_for_url`` open it.
4. Test its options in-process (``check_output_url`` and friends) and its behaviour
   through the simulated or faked device, like tests/hardware and tests/scanner do.

Adding a decoder
----------------
Write ``scanner/decoders/NAME.py`` with a class having ``name`` and
``decode(frame) -> list[str]`` (see ``scanner/decoders/base.py`` for ``to_gray`` and
``looks``), and add ``NAME: Backend(module, class, needs)`` to ``DECODERS`` in
``scanner/decoders/__init__.py``; the configuration's ``[decoder] name`` choices and the
benchmark (``python -m bench.decode``) follow from that table. Change ``DEFAULT_DECODER``
there only with the benchmark's figures.
"""

from .device import Device
from .registry import Backend, Registry
from .url import DriverURL, Options, parse_driver_url

__all__ = ["Backend", "Device", "DriverURL", "Options", "Registry", "parse_driver_url"]
