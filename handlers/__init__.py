"""HTTP <-> domain: one thin module per API, on the generic TMF endpoints in `tmf`."""
