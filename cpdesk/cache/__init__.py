"""Short-lived encrypted record cache: the seam, the SQLCipher store, keys and the keeper.

base.RecordCache      the seam the UI uses; NullCache keeps nothing
store.EncryptedStore  one user's SQLCipher database (entries, offline-view queue)
keys                  data key wrapped under HKDF(device secret, scrypt(password))
keyring               the device secret in the OS keyring, probed before use
keeper.CacheKeeper    opens, unlocks and crypto-erases per-user caches
"""

# Only the seam here: the store, keys and keyring load cryptography and SQLCipher, which
# must wait until after the first paint (tests/cpdesk/test_app.py); import them by module.
from cpdesk.cache.base import NullCache, RecordCache

__all__ = ["NullCache", "RecordCache"]
