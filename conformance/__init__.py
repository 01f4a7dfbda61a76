"""Conformance of a TMF API server to our OpenAPI documents, checked with schemathesis.

python -m conformance                                   TMF629 customer, our app in-process
python -m conformance --api ordering                    or catalog, ordering, inventory
python -m conformance --base-url http://127.0.0.1:8080  any server of that API
"""
