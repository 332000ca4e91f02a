"""Runner of CPython's own ``test.test_asyncio`` against a chosen event loop.

``python -m tests.cpython --loop {goloop,asyncio,uvloop}`` runs every Linux
module of the interpreter's test_asyncio, each in its own watched
subprocess, with the chosen loop injected behind asyncio's default policy
and into the mixin-parametrized test families; it prints a per-module table
and ``cpython-suite: N passed, M failed`` for the applicable tests.  See
README.md in this directory for how the score is made un-gameable.

Layout (one job per module):
    flavors     the loops (goloop / asyncio / uvloop) and how to build them
    inject      policy injection and per-test loop counting
    families    injected variants of the Select/Poll/EPoll test families
    modules     which test_asyncio modules this interpreter has
    protocol    worker -> supervisor event stream
    _worker     runs one module inside a subprocess
    supervisor  per-test watchdog, resume after hang/crash
    runner      runs the modules in sequence
    results     per-test outcomes and their JSON file
    reference   the committed asyncio reference (applicable tests)
    score       applicable/passed/failed per module
    baseline    the goloop ratchet
    report      tables and loop census
    readme      README section generator (``python -m tests.cpython.readme``)
"""
