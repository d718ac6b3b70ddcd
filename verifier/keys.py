"""Ed25519 through libsodium (PyNaCl): domain-separated signing, verification, key checks.

Every GH1 signature covers a domain tag followed by the signed bytes (PROTOCOL.md), so a
signature made for one purpose (an entry token) is never valid for another (a block or a
record). The tags live here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable

import nacl.bindings as _sodium
from nacl.exceptions import BadSignatureError
from nacl.exceptions import RuntimeError as _NaclRuntimeError
from nacl.exceptions import ValueError as _NaclValueError

from errors import InvalidArgument

TAG_ENTRY = b"GH1-ENTRY"
TAG_BLOCK = b"GH1-BLOCK"
TAG_RECORD = b"GH1-RECORD"
TAG_REQUEST = b"GH1-REQUEST"  # a gate's signed request to the hub (not in PROTOCOL.md)

SEED_BYTES = 32
PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64


def public_key_of(seed: bytes) -> bytes:
    """The 32-byte public key of a 32-byte Ed25519 seed."""
    pk, _ = _sodium.crypto_sign_seed_keypair(seed)
    return pk


class Signer:
    """Signs with one Ed25519 key; the expanded secret key is derived once."""

    __slots__ = ("_secret", "public_key")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_BYTES:
            raise InvalidArgument(f"an Ed25519 seed is {SEED_BYTES} bytes, got {len(seed)}")
        self.public_key, self._secret = _sodium.crypto_sign_seed_keypair(seed)

    def sign(self, tag: bytes, message: bytes) -> bytes:
        """Detached signature over ``tag + message``."""
        return _sodium.crypto_sign(tag + message, self._secret)[:SIGNATURE_BYTES]


def verify(public_key: bytes, signature: bytes, tag: bytes, message: bytes) -> bool:
    """True when ``signature`` is libsodium-valid for ``tag + message`` under ``public_key``.

    Every decision pays for one, so it is libsodium's ``crypto_sign_open`` called straight
    through PyNaCl's compiled binding with no output buffer (libsodium takes NULL for
    the message and its length and only verifies): ``nacl.bindings.crypto_sign_open``
    allocates both and copies the message out. PyNaCl does not bind
    ``crypto_sign_verify_detached``, which would spare the concatenation (95 bytes for
    an entry token, a tenth of a microsecond). Without that binding, the public one."""
    if len(signature) != SIGNATURE_BYTES or len(public_key) != PUBLIC_KEY_BYTES:
        return False
    try:
        signed = signature + tag + message
        if _sign_open is None:
            _sodium.crypto_sign_open(signed, public_key)
            return True
        return _sign_open(_NULL, _NULL, signed, len(signed), public_key) == 0
    except (BadSignatureError, _NaclValueError, TypeError):
        return False


try:  # PyNaCl's cffi module (nacl._sodium): private, so only if it is there as expected
    from nacl._sodium import ffi as _ffi
    from nacl._sodium import lib as _lib

    _sign_open: Callable[..., int] | None = _lib.crypto_sign_open
    _NULL = _ffi.NULL
except (ImportError, AttributeError):  # pragma: no cover - another PyNaCl
    _sign_open, _NULL = None, None


_P = 2**255 - 19
_Y_BITS = (1 << 255) - 1
#: The y coordinates of the eight points of small order (the identity, order 2, the two of
#: order 4 and the four of order 8): a point on the curve with one of these y is one of them.
_Y8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022
_SMALL_ORDER_Y = frozenset({0, 1, _P - 1, _Y8, _P - _Y8})
#: The base point, the other operand of the on-curve test below.
_BASE = bytes.fromhex("5866666666666666666666666666666666666666666666666666666666666666")


def is_holder_key(public_key: bytes) -> bool:
    """A holder key as PROTOCOL.md section 2 (revision 1.1) wants it: (a) canonical (y,
    the low 255 bits, below 2^255 - 19), (b) on the curve, (c) not of small order; and no
    subgroup test, which costs a scalar multiplication and protects nothing here (only
    the authority puts keys in blocks; the decision's verify refuses small-order and
    non-canonical keys by itself).

    (a) and (c) are integer comparisons. (b) is the cost, paid once per ticket at a first
    sync (a million times for a big show), so it is done the cheapest sound way there is
    on the machine (:func:`_on_curve`): with gmpy2 (the ``fast`` extra, wheels for
    x86-64 and aarch64), a Jacobi symbol, about 4 us; without it, libsodium decoding
    the point, about 17 us and a third of ``crypto_core_ed25519_is_valid_point``'s cost
    (mostly the subgroup multiplication). Both give the same answer for every input
    (tests/test_holder_keys.py); ``bench.verifier`` measures them."""
    if len(public_key) != PUBLIC_KEY_BYTES:
        return False
    y = int.from_bytes(public_key, "little") & _Y_BITS
    if y >= _P or y in _SMALL_ORDER_Y:
        return False
    return _on_curve(public_key, y)


#: d of the curve -x^2 + y^2 = 1 + d x^2 y^2.
_D = (-121665 * pow(121666, _P - 2, _P)) % _P


def on_curve_sodium(public_key: bytes, y: int) -> bool:
    """libsodium decodes ``public_key`` inside ``crypto_core_ed25519_add`` with the base
    point, and refuses an encoding that is no curve point."""
    try:
        _sodium.crypto_core_ed25519_add(public_key, _BASE)
    except (_NaclRuntimeError, _NaclValueError, TypeError):
        return False
    return True


def _jacobi_check() -> Callable[[bytes, int], bool] | None:
    """The on-curve test by a Jacobi symbol, if gmpy2 is installed. A canonical y is a
    curve point's iff x^2 = u / v has a root, u = y^2 - 1 and v = d y^2 + 1 (never 0:
    -1/d is no square), that is iff u v is a square mod p (u = 0 only for y = +-1, both
    of small order and refused before). The sign bit of x plays no part: -x is a root
    when x is."""
    try:
        import gmpy2
    except ImportError:
        return None
    p, d, jacobi, mpz = gmpy2.mpz(_P), gmpy2.mpz(_D), gmpy2.jacobi, gmpy2.mpz

    def on_curve_jacobi(public_key: bytes, y: int) -> bool:
        yy = mpz(y) ** 2
        return jacobi((yy - 1) * (d * yy + 1) % p, p) == 1

    return on_curve_jacobi


def _on_curve(public_key: bytes, y: int) -> bool:
    """The first call chooses the test (gmpy2's if installed) and stands in for it."""
    global _on_curve
    _on_curve = _jacobi_check() or on_curve_sodium
    return _on_curve(public_key, y)


def is_valid_point(public_key: bytes) -> bool:
    """libsodium's ``crypto_core_ed25519_is_valid_point``: canonical, on the curve,
    in the prime-order subgroup and not of small order. The strict rule, for the one
    ledger key a configuration names; holder keys follow :func:`is_holder_key`."""
    return len(public_key) == PUBLIC_KEY_BYTES and bool(
        _sodium.crypto_core_ed25519_is_valid_point(public_key)
    )
