"""SCIM 2.0 (RFC 7643, RFC 7644) at `/scim/v2`: the wire format, filters, PATCH paths and the
discovery documents. The roster itself lives in the ambassadors service, reached over RPC with
our own typed requests; everything SCIM-shaped stays here."""
