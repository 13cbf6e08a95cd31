"""Outbound webhooks per the Standard Webhooks specification.

An organisation subscribes URLs to the platform's event types. The intake (`handlers`) turns each
domain event into one delivery row per matching enabled endpoint of the event's organisation; the
worker (`delivery`) signs (`signing`) and POSTs them, retrying on a schedule, after checking the
target (`targets`) again. See docs/webhooks.md.
"""
