"""Course booking: catalogue, police offers and referrals, bookings and seats, client self-service, registers, completions."""
