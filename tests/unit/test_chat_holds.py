"""The owner's writer of the web chats agents hold (``web/chat_holds.Holds``, docs/cluster.md),
with a fake of its small store port: the whole desk first (a new owner's), then what changed on
the desk, web chats only; a failed write is retried with the next."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from callcenter.core.commands import OfferConversation
from callcenter.errors import StorageError
from callcenter.web.chat_desk import Desk
from callcenter.web.chat_holds import Holds


class Store:
    def __init__(self) -> None:
        self.writes: list[tuple[dict[str, str], set[str], bool]] = []
        self.fail = False

    async def save_holds(
        self, held: Mapping[str, str], released: Collection[str], *, every: bool = False
    ) -> None:
        if self.fail:
            raise StorageError("database down")
        self.writes.append((dict(held), set(released), every))


def offer(n: int, agent: str, channel: str = "webchat") -> OfferConversation:
    return OfferConversation(f"i{n}", agent, channel, f"c{n}", f"k{n}", 30.0, 1)


async def test_the_whole_desk_first_then_what_changed_web_chats_only() -> None:
    desk, store = Desk(), Store()
    desk.assign(offer(1, "1001"))
    desk.assign(offer(2, "1002", "sms"))
    holds = Holds(desk, store)
    await holds.write()
    assert store.writes == [({"c1": "1001"}, {"c2"}, True)]
    await holds.write()
    assert len(store.writes) == 1  # nothing changed since
    desk.release("c1")
    desk.assign(offer(3, "1001"))
    await holds.write()
    assert store.writes[-1] == ({"c3": "1001"}, {"c1"}, False)


async def test_a_failed_write_is_retried_with_the_next() -> None:
    desk, store = Desk(), Store()
    holds = Holds(desk, store)
    await holds.write()
    desk.assign(offer(1, "1001"))
    store.fail = True
    await holds.write()  # logged, not raised: the agent's accept stands
    assert desk.changed == {"c1"}
    store.fail = False
    desk.assign(offer(2, "1002"))
    await holds.write()
    assert store.writes[-1] == ({"c1": "1001", "c2": "1002"}, set(), False)
