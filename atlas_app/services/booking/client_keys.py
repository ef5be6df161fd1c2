"""The search keys of a client, kept whenever a client row is written (by any service, the demo data included),
so the contact centre's client search can match names by sound as the casework person search does."""

from __future__ import annotations

from sqlalchemy import event

from atlas_app.models.booking import Client
from atlas_app.services.casework.search import sound_keys


def _keep_keys(_mapper, _connection, client: Client) -> None:
    client.name_sounds = sound_keys(f"{client.first_name} {client.last_name}")


event.listen(Client, "before_insert", _keep_keys)
event.listen(Client, "before_update", _keep_keys)
