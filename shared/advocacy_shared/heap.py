"""The start-up heap, left out of the garbage collector's full collections."""

from __future__ import annotations

import functools
import gc


@functools.cache
def freeze_start_up() -> None:
    """`gc.freeze` once in a process, when it has started (the gateway once its lifespan has
    started, a service once its consumers and request handlers run, a batch consumer when it
    starts): what it holds then (modules, models, schemas, routes, connections) is left out of
    the collector's full collections from then on. Those scanned it all, pausing the event loop
    for tens to hundreds of milliseconds every few seconds under load (the gateway's every 2 s
    at 64 connections of reads, docs/performance.md "The seventh round"); they now scan only
    what came after. Once, so that a process starting services again (a test session) does not
    keep freezing what it has since let go of."""
    gc.freeze()
