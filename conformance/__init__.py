"""Conformance of a TMF API server to our OpenAPI documents, checked with schemathesis.

python -m conformance                                   our app, in-process
python -m conformance --base-url http://127.0.0.1:8080  any TMF629 server
"""
