"""Reports: one contract per report (inputs and output shape), served by a pluggable engine.

``contracts`` defines every report once; ``engines`` holds the engines that compute them (the
primary database through the ORM today; ClickHouse can register beside it) and chooses one by
the ``REPORTS_ENGINE`` setting. The API (``api``) only parses filters, asks the chosen engine
and renders the contract's output as JSON or CSV.
"""
