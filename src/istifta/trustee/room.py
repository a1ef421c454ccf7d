"""A whole trustees' ceremony on one machine, every trustee in a folder of its
own: for ``istifta demo`` and the tests. Never for a real referendum, where each
trustee runs their steps on their own (offline) machine (docs/trustees.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from istifta.crypto.group import RandomSource
from istifta.protocol.manifest import parse_manifest

__all__ = ["Ceremony", "run_ceremony"]


@dataclass(frozen=True)
class Ceremony:
    """Trustees who ran ``init``, ``deal`` and ``receive`` in folders of their own."""

    folder: Path
    n: int

    def state(self, j: int) -> Path:
        return self.folder / f"state-{j}"

    def public(self, j: int) -> Path:
        return self.folder / "publics" / f"trustee-{j}.json"

    def verification_key(self, j: int) -> str:
        from istifta.trustee import ceremony

        key = ceremony.status(self.state(j)).verification_key
        assert key is not None
        return key.hex()

    def partial(self, j: int, refs: Any, slug: str, rng: RandomSource) -> dict[str, Any]:
        """Trustee ``j``'s partial decryption of the published tally, as the file they hand over."""
        from istifta.trustee import ceremony

        made = ceremony.decrypt(self.state(j), refs.published_tally(slug), refs.parameters(slug), rng)
        return made.to_json()


def run_ceremony(manifest: Any, folder: Path, rng: RandomSource) -> Ceremony:
    """The whole key ceremony of ``manifest``'s trustees, each in a folder under ``folder``."""
    from istifta.trustee import ceremony

    m = parse_manifest(manifest)
    room = Ceremony(folder, m.n)
    publics = folder / "publics"
    publics.mkdir(parents=True)
    for j in range(1, m.n + 1):
        ceremony.init(room.state(j), m, j, publics, rng)
    for j in range(1, m.n + 1):
        (folder / f"inbox-{j}").mkdir()
    for j in range(1, m.n + 1):
        outgoing = folder / f"out-{j}"
        outgoing.mkdir()
        for share in ceremony.deal(room.state(j), [publics], outgoing).files:
            recipient = share.stem.rsplit("-", 1)[1]
            share.rename(folder / f"inbox-{recipient}" / share.name)
    for j in range(1, m.n + 1):
        ceremony.receive(room.state(j), [publics], [folder / f"inbox-{j}"])
    return room
