"""Environmental Services Ticketing: residents report problems at a place, follow them, get updates; staff work the
queue. Services in ``reports``; the organisation's module of type ``environmental_ticketing`` holds the cases."""

MODULE_TYPE = "environmental_ticketing"
