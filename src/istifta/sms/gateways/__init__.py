"""SMS gateways: one file each behind the small interface of ``base.py``;
``fake.py`` is the in-memory gateway for unit tests."""
