"""How long the relay's loops wait before trying the database again: twice as long
after each failure, up to a most, and short again once it works."""

from __future__ import annotations


class Backoff:
    def __init__(self, first: float, most: float) -> None:
        self.first = first
        self.most = most
        self.reset()

    def reset(self) -> None:
        """It worked: the next wait is the first again."""
        self.current = self.first

    def next(self) -> float:
        """The wait after this failure; the one after the next is twice as long."""
        wait = self.current
        self.current = min(self.current * 2, self.most)
        return wait
