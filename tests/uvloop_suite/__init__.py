"""uvloop's own test suite, the asyncio half, run against goloop.

uvloop's tests come in pairs: every ``Test_UV_*`` class has a ``Test_AIO_*``
twin that runs the same checks on stdlib asyncio (``uvloop._testbase.
AIOTestCase``). goloop promises asyncio's behaviour, so the AIO twins are
the ones that apply: ``python -m tests.uvloop_suite`` runs them once on
asyncio and once with goloop's loop injected, and fails when a test that
passes on asyncio does not pass on goloop. The tests are not part of this
repository: they are read from the sdist of the installed uvloop version,
downloaded from PyPI into a cache directory on first use.
"""
