"""Tests of the HTTP service: the API, admin auth, webhooks over HTTP, and schemathesis."""
