"""Course booking: catalogue, police offers and referrals, bookings and seats, client self-service, registers, completions."""

from atlas_app.services.booking import client_keys  # noqa: E402,F401  (keeps clients' search keys)
